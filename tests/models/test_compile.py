"""Every family compiles as one graph (``fullgraph=True``: no graph breaks) and matches eager.

The graph-break check is dynamo's tracing, the same for any backend; ``aot_eager`` also runs AOTAutograd's
functionalisation (what inductor consumes) without inductor's C++ code generation, which on a 2-core
CPU would take minutes per family. Tiny builds keep the whole test to seconds.
"""

import pytest
import torch

import visionmlp
from helpers.randomised import ONE_PER_FAMILY
from visionmlp.models import get_entry


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_fullgraph_matches_eager(name):
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    c, h, w = model.pretrained_cfg.input_size
    torch.nn.init.normal_(model.head.weight)  # some families start with a zero head: make logits informative
    x = torch.randn(2, c, h, w)
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-5)
