"""Several exo-state-managers on one PostgreSQL database (EXO_TEST_DB=postgres)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TEST_DB, ExoTestCase, main  # noqa: E402


@unittest.skipUnless(TEST_DB == "postgres", "replicas share a PostgreSQL database (run as sm_replicas_pg)")
class ReplicasTest(ExoTestCase):
    def test_placeholder(self):
        pass


if __name__ == "__main__":
    main()
