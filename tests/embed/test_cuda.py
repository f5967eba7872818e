"""The encoder on CUDA: really on the GPU, and the same vectors as on the CPU.

Skipped (with the exact reason from ``workbench.embed.providers``) where no CUDA session can
start, which is every CI machine; ``benchmarks/gpu_check.sh`` runs it on a GPU machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.embed.conftest import sample_texts
from workbench.embed import providers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cuda():
    status = providers.cuda_status()
    if not status.ok:
        pytest.skip(f"no working CUDA provider: {status.reason}")
    return status


def test_cuda_sessions_run_on_the_gpu_and_agree_with_cpu_fp32(cuda, fp32_encoder):
    from workbench.embed import get_encoder

    texts = sample_texts(80)
    ref = fp32_encoder.encode(texts)  # CPU fp32: cosine 1.0000 with torch (test_encoder)
    gpu32 = get_encoder(device="cuda", precision="fp32")
    assert gpu32.device == "cuda" and providers.CUDA_EP in gpu32._session.get_providers()[:1]
    assert ((gpu32.encode(texts) * ref).sum(1)).min() >= 0.9999

    gpu16 = get_encoder(device="cuda")  # auto on CUDA: fp16, built from fp32 on first use
    assert (gpu16.device, gpu16.precision) == ("cuda", "fp16")
    v16 = gpu16.encode(texts)
    assert v16.dtype == np.float32 and np.allclose(np.linalg.norm(v16, axis=1), 1.0, atol=1e-3)
    assert ((v16 * ref).sum(1)).min() >= 0.999


def test_cuda_batches_do_not_change_vectors(cuda):
    from workbench.embed import get_encoder

    texts = sample_texts(40)
    enc = get_encoder(device="cuda", precision="fp32")
    a, b = enc.encode(texts, batch_size=7), enc.encode(texts, batch_size=256)
    assert ((a * b).sum(1)).min() >= 0.99999


def test_nothing_missing_when_cuda_works(cuda):
    assert providers.cuda_libraries() == {}
