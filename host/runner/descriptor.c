/* Bounds checks and the JSON copy of a node descriptor (descriptor.h). */
#include "descriptor.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strfmt.h"

#define MAX_SEGMENTS 32
#define MAX_FIELDS 4096 /* also host_node_from_def's limit */

typedef struct segments {
    uintptr_t base;      /* the object's load bias (link_map l_addr) */
    const char *name;    /* its l_name, to tell objects with one bias apart */
    size_t n;
    uintptr_t lo[MAX_SEGMENTS], hi[MAX_SEGMENTS];
    bool found;
} segments;

static int collect_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    segments *s = arg;
    if (info->dlpi_addr != s->base || !info->dlpi_name || strcmp(info->dlpi_name, s->name) != 0)
        return 0;
    s->found = true;
    for (size_t i = 0; i < info->dlpi_phnum && s->n < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R))
            continue;
        s->lo[s->n] = info->dlpi_addr + ph->p_vaddr;
        s->hi[s->n] = s->lo[s->n] + ph->p_memsz;
        s->n++;
    }
    return 1;
}

/* The segment holding [p, p + len), or -1. */
static int segment_of(const segments *s, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < s->n; i++)
        if (a >= s->lo[i] && a <= s->hi[i] && len <= s->hi[i] - a)
            return (int)i;
    return -1;
}

/* A NUL-terminated string that starts and ends inside one segment. */
static bool string_inside(const segments *s, const char *str)
{
    int i = segment_of(s, str, 1);
    if (i < 0)
        return false;
    return memchr(str, '\0', s->hi[i] - (uintptr_t)str) != NULL;
}

static int check_list(const segments *s, const exo_field_list *l, const char *kind, char *err,
                      size_t errlen)
{
    if (l->count == 0)
        return 0;
    if (l->count > MAX_FIELDS)
        return exo_errf(err, errlen, "the %s list has %zu entries (at most %d)", kind, l->count,
                        MAX_FIELDS);
    if (segment_of(s, l->names, l->count * sizeof l->names[0]) < 0)
        return exo_errf(err, errlen,
                        "the %s list points outside the plugin's mapped segments", kind);
    for (size_t i = 0; i < l->count; i++)
        if (!l->names[i] || !string_inside(s, l->names[i]))
            return exo_errf(err, errlen,
                            "%s #%zu points outside the plugin's mapped segments", kind, i + 1);
    return 0;
}

int host_descriptor_check_bounds(void *dl, const exo_node_def *def, char *err, size_t errlen)
{
    struct link_map *lm = NULL;
    if (dlinfo(dl, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return exo_errf(err, errlen, "cannot find the plugin's mapping (dlinfo failed)");
    segments s = {.base = lm->l_addr, .name = lm->l_name ? lm->l_name : ""};
    dl_iterate_phdr(collect_segments, &s);
    if (!s.found || s.n == 0)
        return exo_errf(err, errlen, "cannot find the plugin's mapped segments");
    /* The fixed head first: abi_version and struct_size say how much more to read. */
    if (segment_of(&s, def, offsetof(exo_node_def, name)) < 0)
        return exo_errf(err, errlen, "exo_node lies outside the plugin's mapped segments");
    size_t need = offsetof(exo_node_def, secrets) + sizeof def->secrets;
    if (def->struct_size < need)
        return 0; /* host_node_from_def names the short descriptor */
    if (segment_of(&s, def, need) < 0)
        return exo_errf(err, errlen, "exo_node lies outside the plugin's mapped segments");
    if (def->name && !string_inside(&s, def->name))
        return exo_errf(err, errlen,
                        "the node name points outside the plugin's mapped segments");
    if (check_list(&s, &def->inputs, "input", err, errlen) < 0 ||
        check_list(&s, &def->outputs, "output", err, errlen) < 0 ||
        check_list(&s, &def->secrets, "secret", err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- the JSON copy ------------------------------------------------------------ */

static json_object *fields_json(const host_field_list *l)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < l->count; i++) {
        const host_field *f = &l->items[i];
        char *entry = f->def ? exo_strfmt("%s=%s", f->name, f->def) : strdup(f->name);
        json_object *s = entry ? json_object_new_string(entry) : NULL;
        free(entry);
        if (!s || json_object_array_add(a, s) != 0) {
            json_object_put(s);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

json_object *host_descriptor_to_json(const host_node *node)
{
    json_object *o = json_object_new_object();
    json_object *in = fields_json(&node->inputs), *out = fields_json(&node->outputs),
                *sec = fields_json(&node->secrets);
    json_object *name = json_object_new_string(node->name);
    if (!o || !in || !out || !sec || !name) {
        json_object_put(o);
        json_object_put(in);
        json_object_put(out);
        json_object_put(sec);
        json_object_put(name);
        return NULL;
    }
    json_object_object_add(o, "abi_version", json_object_new_int64(EXO_ABI_VERSION));
    json_object_object_add(o, "struct_size", json_object_new_int64(sizeof(exo_node_def)));
    json_object_object_add(o, "name", name);
    json_object_object_add(o, "inputs", in);
    json_object_object_add(o, "outputs", out);
    json_object_object_add(o, "secrets", sec);
    return o;
}

/* Points list at the strings of the JSON array key (kept alive by o). */
static int list_from_json(json_object *o, const char *key, exo_field_list *list,
                          const char ***names, char *err, size_t errlen)
{
    json_object *a = NULL;
    if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
        return exo_errf(err, errlen, "the probe's descriptor has no %s list", key);
    size_t n = json_object_array_length(a);
    if (n > MAX_FIELDS)
        return exo_errf(err, errlen, "the %s list has %zu entries (at most %d)", key, n,
                        MAX_FIELDS);
    *names = calloc(n + 1, sizeof **names);
    if (!*names)
        return exo_errf(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (!json_object_is_type(e, json_type_string))
            return exo_errf(err, errlen, "%s #%zu of the probe's descriptor is not a string", key,
                            i + 1);
        (*names)[i] = json_object_get_string(e);
        if (strlen((*names)[i]) != (size_t)json_object_get_string_len(e))
            return exo_errf(err, errlen, "%s #%zu contains a NUL byte", key, i + 1);
    }
    list->count = n;
    list->names = *names;
    return 0;
}

static int64_t int_member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    return json_object_get_int64(v);
}

int host_descriptor_from_json(json_object *o, const char *origin, host_node *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->so_fd = -1;
    char why[512];
    if (!json_object_is_type(o, json_type_object))
        return exo_errf(err, errlen, "%s: the probe sent no descriptor", origin);
    int64_t abi = int_member(o, "abi_version"), size = int_member(o, "struct_size");
    json_object *name = NULL;
    if (abi < 0 || abi > UINT32_MAX || size < 0 || size > UINT32_MAX ||
        !json_object_object_get_ex(o, "name", &name) || !json_object_is_type(name, json_type_string))
        return exo_errf(err, errlen, "%s: the probe's descriptor is malformed", origin);
    exo_node_def def = {.abi_version = (uint32_t)abi, .struct_size = (uint32_t)size,
                        .name = json_object_get_string(name)};
    const char **in = NULL, **outs = NULL, **sec = NULL;
    int rc = -1;
    if (list_from_json(o, "inputs", &def.inputs, &in, why, sizeof why) < 0 ||
        list_from_json(o, "outputs", &def.outputs, &outs, why, sizeof why) < 0 ||
        list_from_json(o, "secrets", &def.secrets, &sec, why, sizeof why) < 0)
        exo_errf(err, errlen, "%s: %s", origin, why);
    else if (strlen(def.name) != (size_t)json_object_get_string_len(name))
        exo_errf(err, errlen, "%s: the node name contains a NUL byte", origin);
    else
        rc = host_node_from_def(&def, origin, out, err, errlen);
    free(in);
    free(outs);
    free(sec);
    return rc;
}
