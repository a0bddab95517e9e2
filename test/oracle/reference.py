"""Independent PyTorch forward passes of the families Tetra imports, written
from the Hugging Face conventions (ALGORITHMS.md section 7), over a dict of
tensors with the checkpoints' names. Everything in fp32."""
import math

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps, unit_offset=False):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * ((1.0 + w) if unit_offset else w)


def rope(x, base, rotated, interleaved=False):
    """x [B, S, N, D]; rotates the first `rotated` channels."""
    seq = x.shape[1]
    inv_freq = 1.0 / (base ** (torch.arange(0, rotated, 2).float() / rotated))
    freqs = torch.outer(torch.arange(seq).float(), inv_freq)  # [S, rotated/2]
    xr, rest = x[..., :rotated], x[..., rotated:]
    if interleaved:
        pairs = xr.reshape(*xr.shape[:-1], rotated // 2, 2)
        cos, sin = freqs.cos()[None, :, None, :], freqs.sin()[None, :, None, :]
        a, b = pairs[..., 0], pairs[..., 1]
        out = torch.stack([a * cos - b * sin, b * cos + a * sin], -1).flatten(-2)
    else:
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
        x1, x2 = xr[..., : rotated // 2], xr[..., rotated // 2:]
        out = xr * cos + torch.cat([-x2, x1], -1) * sin
    return torch.cat([out, rest], -1)


def attention(q, k, v, window=None):
    """Causal attention; q [B, S, Hq, D], k/v [B, S, Hkv, D]."""
    groups = q.shape[2] // k.shape[2]
    k = k.repeat_interleave(groups, dim=2)
    v = v.repeat_interleave(groups, dim=2)
    scores = torch.einsum("bshd,bthd->bhst", q, k) / math.sqrt(q.shape[-1])
    seq = q.shape[1]
    s = torch.arange(seq)[:, None]
    t = torch.arange(seq)[None, :]
    allowed = t <= s
    if window is not None:
        allowed = allowed & (s - t < window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("bhst,bthd->bshd", scores.softmax(-1), v)


def gelu(x, tanh):
    return F.gelu(x, approximate="tanh" if tanh else "none")


def llama_family(cfg, w, ids):
    family = cfg["model_type"]
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim", hidden // heads)
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    gemma = family == "gemma"
    window = cfg.get("sliding_window") if family == "mistral" else None
    qkv_bias = family == "qwen2" or cfg.get("attention_bias", False)
    b, s = ids.shape
    x = w["model.embed_tokens.weight"][ids]
    if gemma:
        x = x * math.sqrt(hidden)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps, gemma)

        def proj(name, n):
            y = h @ w[p + f"self_attn.{name}.weight"].T
            if qkv_bias:
                y = y + w[p + f"self_attn.{name}.bias"]
            return y.view(b, s, n, head_dim)

        q = rope(proj("q_proj", heads), theta, head_dim)
        k = rope(proj("k_proj", kv), theta, head_dim)
        v = proj("v_proj", kv)
        a = attention(q, k, v, window).reshape(b, s, heads * head_dim)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps, gemma)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        act = gelu(gate, True) if gemma else F.silu(gate)
        x = x + (act * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps, gemma)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def gpt2(cfg, w, ids):
    hidden, heads = cfg["n_embd"], cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    b, s = ids.shape
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(s)]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = F.layer_norm(x, (hidden,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(b, s, heads, hidden // heads) for t in qkv.split(hidden, -1))
        a = attention(q, k, v).reshape(b, s, hidden)
        x = x + a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (hidden,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = gelu(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], True)
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (hidden,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return x @ w["transformer.wte.weight"].T


def gpt_neox(cfg, w, ids):
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim = hidden // heads
    rotated = int(head_dim * cfg.get("rotary_pct", 0.25))
    eps = cfg.get("layer_norm_eps", 1e-5)
    base = cfg.get("rotary_emb_base", 10000)
    parallel = cfg.get("use_parallel_residual", True)
    b, s = ids.shape
    x = w["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}."

        def ln(t, name):
            return F.layer_norm(t, (hidden,), w[p + name + ".weight"], w[p + name + ".bias"], eps)

        def attn(h):
            qkv = h @ w[p + "attention.query_key_value.weight"].T + w[p + "attention.query_key_value.bias"]
            qkv = qkv.view(b, s, heads, 3 * head_dim)
            q, k, v = qkv.split(head_dim, -1)
            a = attention(rope(q, base, rotated), rope(k, base, rotated), v).reshape(b, s, hidden)
            return a @ w[p + "attention.dense.weight"].T + w[p + "attention.dense.bias"]

        def mlp(h):
            m = gelu(h @ w[p + "mlp.dense_h_to_4h.weight"].T + w[p + "mlp.dense_h_to_4h.bias"], False)
            return m @ w[p + "mlp.dense_4h_to_h.weight"].T + w[p + "mlp.dense_4h_to_h.bias"]

        if parallel:
            x = x + attn(ln(x, "input_layernorm")) + mlp(ln(x, "post_attention_layernorm"))
        else:
            x = x + attn(ln(x, "input_layernorm"))
            x = x + mlp(ln(x, "post_attention_layernorm"))
    x = F.layer_norm(x, (hidden,), w["gpt_neox.final_layer_norm.weight"],
                     w["gpt_neox.final_layer_norm.bias"], eps)
    return x @ w["embed_out.weight"].T


def forward(cfg, weights, ids):
    family = cfg["model_type"]
    if family in ("llama", "mistral", "qwen2", "gemma"):
        return llama_family(cfg, weights, ids)
    if family == "gpt2":
        return gpt2(cfg, weights, ids)
    if family == "gpt_neox":
        return gpt_neox(cfg, weights, ids)
    raise ValueError(f"no reference for model_type {family}")
