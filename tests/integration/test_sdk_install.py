"""`cmake --install` gives plugin authors everything they need: the SDK header, a
pkg-config file and a CMake package; an out-of-tree plugin built either way loads
in the installed exo-host."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

SAMPLE = os.path.join(harness.SOURCE_DIR, "plugins", "sample", "sample.c")


class SdkInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="exo-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        subprocess.run(["cmake", "--install", harness.BUILD_DIR, "--prefix", cls.prefix],
                       check=True, capture_output=True, text=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def describe(self, plugin):
        out = subprocess.run([os.path.join(self.prefix, "bin", "exo-host"), "--describe", plugin],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_installs_programs_header_and_example_plugins(self):
        for path in ["bin/exo-host", "bin/exo-host-runner", "bin/exo-state-manager", "bin/exoctl",
                     "include/exo/node.h", "lib/pkgconfig/exo-sdk.pc",
                     "lib/cmake/exo-sdk/exo-sdk-config.cmake", "lib/exo/plugins/sample.so"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, path)), path)

    def test_plugin_built_with_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib", "pkgconfig"))
        cflags = subprocess.run(["pkg-config", "--cflags", "exo-sdk"], env=env, check=True,
                                capture_output=True, text=True).stdout.split()
        plugin = os.path.join(self.tmp, "node.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", *cflags, SAMPLE,
                        "-o", plugin], check=True, capture_output=True, text=True)
        node = self.describe(plugin)
        self.assertEqual(node["name"], "SampleNode")
        self.assertEqual(list(node["inputs_schema"]["properties"]), ["name", "data"])

    def test_plugin_built_with_cmake_package(self):
        project = os.path.join(self.tmp, "project")
        os.makedirs(project)
        shutil.copy(SAMPLE, project)
        with open(os.path.join(project, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\nproject(mynode C)\n"
                    "find_package(exo-sdk REQUIRED)\nexo_add_plugin(mynode sample.c)\n")
        build = os.path.join(project, "build")
        for cmd in (["cmake", "-S", project, "-B", build, f"-DCMAKE_PREFIX_PATH={self.prefix}"],
                    ["cmake", "--build", build]):
            out = subprocess.run(cmd, capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        node = self.describe(os.path.join(build, "mynode.so"))
        self.assertEqual(node["name"], "SampleNode")


if __name__ == "__main__":
    unittest.main(verbosity=2)
