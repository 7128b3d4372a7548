"""Rewrites every f-string of the given files (in place) as ''.join([...]), so
that Python 3.11, Debian bookworm's, can run code written with 3.12's f-string
syntax (PEP 701), such as the reference SDK's.  Run it with Python >= 3.12 (it
must parse that syntax) on a copy:
    python3.12 tests/reference/backport_fstrings.py $(find COPY/exospherehost -name '*.py')
Behaviour is unchanged: format(value, spec) is what an f-string calls; comments
and formatting are not kept."""
import ast, sys

class NoFStrings(ast.NodeTransformer):
    def visit_JoinedStr(self, node):
        self.generic_visit(node)
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(v)
                continue
            value = v.value
            if v.conversion != -1:
                fn = {ord('r'): 'repr', ord('s'): 'str', ord('a'): 'ascii'}[v.conversion]
                value = ast.Call(ast.Name(fn, ast.Load()), [value], [])
            spec = v.format_spec if v.format_spec is not None else ast.Constant('')
            parts.append(ast.Call(ast.Name('format', ast.Load()), [value, spec], []))
        return ast.Call(ast.Attribute(ast.Constant(''), 'join', ast.Load()), [ast.List(parts, ast.Load())], [])

for p in sys.argv[1:]:
    tree = NoFStrings().visit(ast.parse(open(p).read()))
    open(p, 'w').write(ast.unparse(ast.fix_missing_locations(tree)) + "\n")
