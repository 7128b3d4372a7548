"""A worker built with the reference Python SDK (exospherehost), started by
tests/integration/test_reference_runtime.py: it is run with the SDK's own
interpreter, so it uses nothing of this repository.

argv: STATE_MANAGER_URI NAMESPACE WORKDIR.  The API key comes from EXOSPHERE_API_KEY.
WORKDIR/attempts-* files count the attempts of the nodes that fail or re-enqueue
once, so a retried state sees that it ran before."""
import os
import sys
from datetime import timedelta

from pydantic import BaseModel
from exospherehost import BaseNode, PruneSignal, ReQueueAfterSignal, Runtime

URI, NS, WORKDIR = sys.argv[1], sys.argv[2], sys.argv[3]


def attempt(kind, key):
    """How many times (kind, key) ran before this call."""
    path = os.path.join(WORKDIR, f"attempts-{kind}-{key}")
    before = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(before + 1))
    return before


class RefSplit(BaseNode):
    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        word: str

    async def execute(self):
        return [self.Outputs(word=w) for w in self.inputs.text.split()]


class RefShout(BaseNode):
    class Inputs(BaseModel):
        word: str

    class Outputs(BaseModel):
        shouted: str

    class Secrets(BaseModel):
        suffix: str

    async def execute(self):
        return self.Outputs(shouted=self.inputs.word.upper() + self.secrets.suffix)


class RefJoin(BaseNode):
    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        joined: str

    async def execute(self):
        return self.Outputs(joined="done:" + self.inputs.text)


class RefFlaky(BaseNode):
    """Fails its first attempt (the graph's retry policy retries it), then succeeds."""
    class Inputs(BaseModel):
        key: str

    class Outputs(BaseModel):
        attempts: str

    async def execute(self):
        before = attempt("flaky", self.inputs.key)
        if before == 0:
            raise RuntimeError("first attempt fails on purpose")
        return self.Outputs(attempts=str(before + 1))


class RefGate(BaseNode):
    """Re-enqueues itself once (100 ms), then prunes when key starts with 'prune'."""
    class Inputs(BaseModel):
        key: str

    class Outputs(BaseModel):
        passed: str

    async def execute(self):
        if attempt("gate", self.inputs.key) == 0:
            raise ReQueueAfterSignal(timedelta(milliseconds=100))
        if self.inputs.key.startswith("prune"):
            raise PruneSignal({"reason": "pruned by the reference worker"})
        return self.Outputs(passed=self.inputs.key)


Runtime(namespace=NS, name="reference-sdk-worker", nodes=[RefSplit, RefShout, RefJoin, RefFlaky, RefGate],
        state_manager_uri=URI, batch_size=8, workers=4, poll_interval=1).start()
