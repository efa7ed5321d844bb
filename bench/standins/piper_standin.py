#!/usr/bin/env python3
"""Random-weight stand-in of a Piper *medium* voice (en_US-lessac-medium's shapes), exported to ONNX.

Used by bench/standins/tts.ts (`npm run bench -- plugins --standin tts`). Parley's own compact rewrite of the
inference path of Piper's VITS (rhasspy/piper src/python/piper_train/vits/: models.py SynthesizerTrn.infer,
modules.py, attentions.py, transforms.py), with the module names, sizes and operations of the original, and the
export done as piper_train/export_onnx.py does it (opset 15, same input/output names and dynamic axes, weight norm
removed from the decoder only). Training-only parts (posterior encoder, discriminators, the duration predictor's
posterior flows and the one flow that infer() skips) are not built: they are not in a voice's .onnx either.

Medium = VitsModel's defaults (lightning.py / __main__.py --quality medium): hidden 192, inter 192, filter 768,
6 layers, 2 heads, kernel 3, relative attention window 4; flow 4 coupling layers of WN(kernel 5, dilation 1,
4 layers); stochastic duration predictor (filter 192, kernel 3, 3 DDS layers, spline flows of 10 bins); HiFi-GAN
generator resblock "2", kernels (3, 5, 7), dilations ((1, 2), (2, 6), (3, 12)), upsample rates (8, 8, 4), kernels
(16, 16, 8), initial channel 256; 22,050 Hz, hop 256; 256 symbols; gin 512 when multi-speaker.

Weights are random. Only the duration predictor's last affine step is set, so that the voice speaks at a realistic
rate (--frames-per-id, default 2.54 = 2.7 words/s on Piper's English test sentences): the cost of a run follows
the number of frames, and random durations would make the output length, and so the cost, arbitrary.

usage: piper_standin.py OUT.onnx [--speakers N] [--frames-per-id F] [--seed S]
prints one JSON line: parameter counts, calibration, timing.
"""
import argparse
import json
import math
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import remove_weight_norm, weight_norm

MEDIUM = dict(
    num_symbols=256, hidden=192, inter=192, filter=768, n_heads=2, n_layers=6, kernel=3, window=4,
    resblock_kernels=(3, 5, 7), resblock_dilations=((1, 2), (2, 6), (3, 12)),
    upsample_rates=(8, 8, 4), upsample_kernels=(16, 16, 8), upsample_initial=256,
    flow_kernel=5, flow_layers=4, n_flows=4, dp_filter=192, dp_kernel=3, sample_rate=22050, hop=256,
)


def sequence_mask(length, max_length=None):
    if max_length is None:
        max_length = length.max()
    x = torch.arange(max_length, dtype=length.dtype, device=length.device)
    return x.unsqueeze(0) < length.unsqueeze(1)


def generate_path(duration, mask):
    b, _, t_y, t_x = mask.shape
    cum = torch.cumsum(duration, -1).view(b * t_x)
    path = sequence_mask(cum, t_y).type_as(mask).view(b, t_x, t_y)
    path = path - F.pad(path, (0, 0, 1, 0, 0, 0))[:, :-1]
    return path.unsqueeze(1).transpose(2, 3) * mask


@torch.jit.script
def fused_add_tanh_sigmoid_multiply(input_a, input_b, n_channels):
    n = n_channels[0]
    in_act = input_a + input_b
    return torch.tanh(in_act[:, :n, :]) * torch.sigmoid(in_act[:, n:, :])


class LayerNorm(nn.Module):
    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.channels, self.eps = channels, eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        x = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


# --- text encoder (attentions.py) -----------------------------------------------------------------------------

class MultiHeadAttention(nn.Module):
    """Self-attention with shared relative position embeddings (window 4), as attentions.MultiHeadAttention."""

    def __init__(self, channels, n_heads, window_size):
        super().__init__()
        self.n_heads, self.window_size, self.k_channels = n_heads, window_size, channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        std = self.k_channels ** -0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, window_size * 2 + 1, self.k_channels) * std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, window_size * 2 + 1, self.k_channels) * std)
        for c in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(c.weight)

    def forward(self, x, c, attn_mask):
        q, k, v = self.conv_q(x), self.conv_k(c), self.conv_v(c)
        b, d, t_s, t_t = k.size(0), k.size(1), k.size(2), q.size(2)
        q = q.view(b, self.n_heads, self.k_channels, t_t).transpose(2, 3)
        k = k.view(b, self.n_heads, self.k_channels, t_s).transpose(2, 3)
        v = v.view(b, self.n_heads, self.k_channels, t_s).transpose(2, 3)
        q = q / math.sqrt(self.k_channels)
        scores = torch.matmul(q, k.transpose(-2, -1))
        rel_k = self._relative_embeddings(self.emb_rel_k, t_s)
        scores = scores + self._rel_to_abs(torch.matmul(q, rel_k.unsqueeze(0).transpose(-2, -1)))
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p = F.softmax(scores, dim=-1)
        out = torch.matmul(p, v)
        rel_v = self._relative_embeddings(self.emb_rel_v, t_s)
        out = out + torch.matmul(self._abs_to_rel(p), rel_v.unsqueeze(0))
        return self.conv_o(out.transpose(2, 3).contiguous().view(b, d, t_t))

    def _relative_embeddings(self, emb, length: int):
        pad = max(length - (self.window_size + 1), 0)
        start = max((self.window_size + 1) - length, 0)
        if pad > 0:
            emb = F.pad(emb, (0, 0, pad, pad, 0, 0))
        return emb[:, start:start + 2 * length - 1]

    @staticmethod
    def _rel_to_abs(x):
        batch, heads, length, _ = x.size()
        x = F.pad(x, (0, 1, 0, 0, 0, 0, 0, 0))
        x = F.pad(x.view([batch, heads, length * 2 * length]), (0, length - 1, 0, 0, 0, 0))
        return x.view([batch, heads, length + 1, 2 * length - 1])[:, :, :length, length - 1:]

    @staticmethod
    def _abs_to_rel(x):
        batch, heads, length, _ = x.size()
        x = F.pad(x, (0, length - 1, 0, 0, 0, 0, 0, 0))
        x = F.pad(x.view([batch, heads, length * length + length * (length - 1)]), (length, 0, 0, 0, 0, 0))
        return x.view([batch, heads, length, 2 * length])[:, :, :, 1:]


class FFN(nn.Module):
    def __init__(self, channels, filter_channels, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def _pad(self, x):
        return F.pad(x, ((self.kernel_size - 1) // 2, self.kernel_size // 2, 0, 0, 0, 0))

    def forward(self, x, x_mask):
        x = torch.relu(self.conv_1(self._pad(x * x_mask)))
        return self.conv_2(self._pad(x * x_mask)) * x_mask


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c['hidden']
        self.attn_layers = nn.ModuleList(MultiHeadAttention(h, c['n_heads'], c['window']) for _ in range(c['n_layers']))
        self.norm_layers_1 = nn.ModuleList(LayerNorm(h) for _ in range(c['n_layers']))
        self.ffn_layers = nn.ModuleList(FFN(h, c['filter'], c['kernel']) for _ in range(c['n_layers']))
        self.norm_layers_2 = nn.ModuleList(LayerNorm(h) for _ in range(c['n_layers']))

    def forward(self, x, x_mask):
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, n1, ffn, n2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2):
            x = n1(x + attn(x, x, attn_mask))
            x = n2(x + ffn(x, x_mask))
        return x * x_mask


class TextEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.hidden, self.inter = c['hidden'], c['inter']
        self.emb = nn.Embedding(c['num_symbols'], c['hidden'])
        nn.init.normal_(self.emb.weight, 0.0, c['hidden'] ** -0.5)
        self.encoder = Encoder(c)
        self.proj = nn.Conv1d(c['hidden'], c['inter'] * 2, 1)

    def forward(self, x, x_lengths):
        x = torch.transpose(self.emb(x) * math.sqrt(self.hidden), 1, -1)
        x_mask = torch.unsqueeze(sequence_mask(x_lengths, x.size(2)), 1).type_as(x)
        x = self.encoder(x * x_mask, x_mask)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.inter, dim=1)
        return x, m, logs, x_mask


# --- stochastic duration predictor, inference direction (models.py, modules.py, transforms.py) ------------------

class DDSConv(nn.Module):
    def __init__(self, channels, kernel_size, n_layers):
        super().__init__()
        self.n_layers = n_layers
        self.convs_sep, self.convs_1x1 = nn.ModuleList(), nn.ModuleList()
        self.norms_1, self.norms_2 = nn.ModuleList(), nn.ModuleList()
        for i in range(n_layers):
            dilation = kernel_size ** i
            self.convs_sep.append(nn.Conv1d(channels, channels, kernel_size, groups=channels, dilation=dilation,
                                            padding=(kernel_size * dilation - dilation) // 2))
            self.convs_1x1.append(nn.Conv1d(channels, channels, 1))
            self.norms_1.append(LayerNorm(channels))
            self.norms_2.append(LayerNorm(channels))

    def forward(self, x, x_mask, g=None):
        if g is not None:
            x = x + g
        for i in range(self.n_layers):
            y = F.gelu(self.norms_1[i](self.convs_sep[i](x * x_mask)))
            y = F.gelu(self.norms_2[i](self.convs_1x1[i](y)))
            x = x + y
        return x * x_mask


def rq_spline_inverse(inputs, widths, heights, derivatives, tail_bound, min_w=1e-3, min_h=1e-3, min_d=1e-3):
    """transforms.unconstrained_rational_quadratic_spline(..., inverse=True, tails='linear'), outputs only."""
    inside = (inputs >= -tail_bound) & (inputs <= tail_bound)
    outside = ~inside
    outputs = torch.zeros_like(inputs)
    derivatives = F.pad(derivatives, pad=(1, 1))
    constant = math.log(math.exp(1 - min_d) - 1)
    derivatives[..., 0] = constant
    derivatives[..., derivatives.size(-1) - 1] = constant
    outputs[outside] = inputs[outside]
    x, widths, heights, derivatives = inputs[inside], widths[inside, :], heights[inside, :], derivatives[inside, :]
    left, bottom, span = -tail_bound, -tail_bound, 2 * tail_bound
    num_bins = widths.shape[-1]
    widths = min_w + (1 - min_w * num_bins) * F.softmax(widths, dim=-1)
    cumwidths = F.pad(torch.cumsum(widths, dim=-1), pad=(1, 0), mode='constant', value=0.0) * span + left
    cumwidths[..., 0] = left
    cumwidths[..., cumwidths.size(-1) - 1] = left + span
    widths = cumwidths[..., 1:] - cumwidths[..., :-1]
    derivatives = min_d + F.softplus(derivatives)
    heights = min_h + (1 - min_h * num_bins) * F.softmax(heights, dim=-1)
    cumheights = F.pad(torch.cumsum(heights, dim=-1), pad=(1, 0), mode='constant', value=0.0) * span + bottom
    cumheights[..., 0] = bottom
    cumheights[..., cumheights.size(-1) - 1] = bottom + span
    heights = cumheights[..., 1:] - cumheights[..., :-1]
    cumheights[..., cumheights.size(-1) - 1] += 1e-6  # searchsorted's eps
    bin_idx = (torch.sum(x[..., None] >= cumheights, dim=-1) - 1)[..., None]
    in_cumwidths = cumwidths.gather(-1, bin_idx)[..., 0]
    in_widths = widths.gather(-1, bin_idx)[..., 0]
    in_cumheights = cumheights.gather(-1, bin_idx)[..., 0]
    delta = heights / widths
    in_delta = delta.gather(-1, bin_idx)[..., 0]
    in_d = derivatives.gather(-1, bin_idx)[..., 0]
    in_d1 = derivatives[..., 1:].gather(-1, bin_idx)[..., 0]
    in_heights = heights.gather(-1, bin_idx)[..., 0]
    a = (x - in_cumheights) * (in_d + in_d1 - 2 * in_delta) + in_heights * (in_delta - in_d)
    b = in_heights * in_d - (x - in_cumheights) * (in_d + in_d1 - 2 * in_delta)
    c = -in_delta * (x - in_cumheights)
    root = (2 * c) / (-b - torch.sqrt(b.pow(2) - 4 * a * c))
    outputs[inside] = root * in_widths + in_cumwidths
    return outputs


class ConvFlow(nn.Module):
    def __init__(self, filter_channels, kernel_size, n_layers=3, num_bins=10, tail_bound=5.0):
        super().__init__()
        self.filter_channels, self.num_bins, self.tail_bound = filter_channels, num_bins, tail_bound
        self.pre = nn.Conv1d(1, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, num_bins * 3 - 1, 1)

    def forward(self, x, x_mask, g):
        x0, x1 = torch.split(x, [1, 1], 1)
        h = self.proj(self.convs(self.pre(x0), x_mask, g=g)) * x_mask
        b, c, t = x0.shape
        h = h.reshape(b, c, -1, t).permute(0, 1, 3, 2)
        s = math.sqrt(self.filter_channels)
        x1 = rq_spline_inverse(x1, h[..., :self.num_bins] / s, h[..., self.num_bins:2 * self.num_bins] / s,
                               h[..., 2 * self.num_bins:], self.tail_bound)
        return torch.cat([x0, x1], 1) * x_mask


class ElementwiseAffine(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x, x_mask):  # reverse direction
        return (x - self.m) * torch.exp(-self.logs) * x_mask


class StochasticDurationPredictor(nn.Module):
    """infer(): the flows run reversed, without the one "useless vflow" (so 3 of the 4 ConvFlows) and without the
    posterior flows (training only). Names as in a trained checkpoint: flows.0 = the affine step, flows.3/5/7 the
    ConvFlows that inference uses (flows.1 is the skipped one; the Flips have no weights)."""

    def __init__(self, c, gin_channels):
        super().__init__()
        fc, k = c['dp_filter'], c['dp_kernel']
        self.flows = nn.ModuleDict({'0': ElementwiseAffine(2), '3': ConvFlow(fc, k), '5': ConvFlow(fc, k), '7': ConvFlow(fc, k)})
        self.pre = nn.Conv1d(c['hidden'], fc, 1)
        self.proj = nn.Conv1d(fc, fc, 1)
        self.convs = DDSConv(fc, k, 3)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, fc, 1)

    def forward(self, x, x_mask, g=None, noise_scale=1.0):
        x = self.pre(torch.detach(x))
        if g is not None:
            x = x + self.cond(torch.detach(g))
        x = self.proj(self.convs(x, x_mask)) * x_mask
        z = torch.randn(x.size(0), 2, x.size(2)).type_as(x) * noise_scale
        for i in ('7', '5', '3'):  # reversed(flows) = Flip, flows.7, Flip, flows.5, Flip, flows.3, Flip, flows.0
            z = self.flows[i](torch.flip(z, [1]), x_mask, g=x)
        z = self.flows['0'](torch.flip(z, [1]), x_mask)
        return torch.split(z, [1, 1], 1)[0]  # logw


# --- flow (ResidualCouplingBlock of WN layers) ------------------------------------------------------------------

class WN(nn.Module):
    def __init__(self, hidden, kernel_size, dilation_rate, n_layers, gin_channels):
        super().__init__()
        self.hidden, self.n_layers = hidden, n_layers
        if gin_channels:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden * n_layers, 1), name='weight')
        self.in_layers, self.res_skip_layers = nn.ModuleList(), nn.ModuleList()
        for i in range(n_layers):
            dilation = dilation_rate ** i
            self.in_layers.append(weight_norm(nn.Conv1d(hidden, 2 * hidden, kernel_size, dilation=dilation,
                                                        padding=int((kernel_size * dilation - dilation) / 2)), name='weight'))
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1), name='weight'))

    def forward(self, x, x_mask, g=None):
        output = torch.zeros_like(x)
        n_channels = torch.IntTensor([self.hidden])
        if g is not None:
            g = self.cond_layer(g)
        for i in range(self.n_layers):
            x_in = self.in_layers[i](x)
            g_l = g[:, i * 2 * self.hidden:(i + 1) * 2 * self.hidden, :] if g is not None else torch.zeros_like(x_in)
            acts = self.res_skip_layers[i](fused_add_tanh_sigmoid_multiply(x_in, g_l, n_channels))
            if i < self.n_layers - 1:
                x = (x + acts[:, :self.hidden, :]) * x_mask
                output = output + acts[:, self.hidden:, :]
            else:
                output = output + acts
        return output * x_mask


class ResidualCouplingLayer(nn.Module):  # mean_only=True
    def __init__(self, channels, hidden, kernel_size, dilation_rate, n_layers, gin_channels):
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WN(hidden, kernel_size, dilation_rate, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden, self.half, 1)

    def forward(self, x, x_mask, g=None):  # reverse direction
        x0, x1 = torch.split(x, [self.half] * 2, 1)
        m = self.post(self.enc(self.pre(x0) * x_mask, x_mask, g=g)) * x_mask
        logs = torch.zeros_like(m)
        return torch.cat([x0, (x1 - m) * torch.exp(-logs) * x_mask], 1)


class ResidualCouplingBlock(nn.Module):
    def __init__(self, c, gin_channels):
        super().__init__()
        # flows.0/2/4/6 are the coupling layers, 1/3/5/7 Flips (no weights), as in a checkpoint.
        self.flows = nn.ModuleDict({str(2 * i): ResidualCouplingLayer(c['inter'], c['hidden'], c['flow_kernel'], 1, c['flow_layers'], gin_channels)
                                    for i in range(c['n_flows'])})

    def forward(self, x, x_mask, g=None):  # reverse direction: Flip, flows.6, Flip, flows.4, ...
        for i in reversed(range(len(self.flows))):
            x = self.flows[str(2 * i)](torch.flip(x, [1]), x_mask, g=g)
        return x


# --- decoder (HiFi-GAN generator) -------------------------------------------------------------------------------

class ResBlock2(nn.Module):
    def __init__(self, channels, kernel_size, dilation):
        super().__init__()
        self.convs = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                                         padding=int((kernel_size * d - d) / 2))) for d in dilation)
        for c in self.convs:
            c.weight_v.data.normal_(0.0, 0.01)  # commons.init_weights

    def forward(self, x):
        for c in self.convs:
            x = c(F.leaky_relu(x, 0.1)) + x
        return x

    def remove_weight_norm(self):
        for c in self.convs:
            remove_weight_norm(c)


class Generator(nn.Module):
    def __init__(self, c, gin_channels):
        super().__init__()
        u0 = c['upsample_initial']
        self.num_kernels = len(c['resblock_kernels'])
        self.conv_pre = nn.Conv1d(c['inter'], u0, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(c['upsample_rates'], c['upsample_kernels'])):
            up = weight_norm(nn.ConvTranspose1d(u0 // 2 ** i, u0 // 2 ** (i + 1), k, u, padding=(k - u) // 2))
            up.weight_v.data.normal_(0.0, 0.01)
            self.ups.append(up)
        self.resblocks = nn.ModuleList(ResBlock2(u0 // 2 ** (i + 1), k, d) for i in range(len(self.ups))
                                       for k, d in zip(c['resblock_kernels'], c['resblock_dilations']))
        self.conv_post = nn.Conv1d(u0 // 2 ** len(self.ups), 1, 7, 1, padding=3, bias=False)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, u0, 1)

    def forward(self, x, g=None):
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, 0.1))
            xs = torch.zeros(1)
            for j in range(self.num_kernels):
                r = self.resblocks[i * self.num_kernels + j](x)
                xs = r if j == 0 else xs + r
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def remove_weight_norm(self):
        for up in self.ups:
            remove_weight_norm(up)
        for r in self.resblocks:
            r.remove_weight_norm()


class Synthesizer(nn.Module):
    """SynthesizerTrn's inference path (models.py infer())."""

    def __init__(self, c, n_speakers=1):
        super().__init__()
        self.n_speakers = n_speakers
        gin = 512 if n_speakers > 1 else 0
        self.enc_p = TextEncoder(c)
        self.dec = Generator(c, gin)
        self.flow = ResidualCouplingBlock(c, gin)
        self.dp = StochasticDurationPredictor(c, gin)
        if n_speakers > 1:
            self.emb_g = nn.Embedding(n_speakers, gin)

    def durations(self, x, x_lengths, sid=None, length_scale=1.0, noise_scale_w=0.8):
        x, m_p, logs_p, x_mask = self.enc_p(x, x_lengths)
        g = self.emb_g(sid).unsqueeze(-1) if self.n_speakers > 1 else None
        logw = self.dp(x, x_mask, g=g, noise_scale=noise_scale_w)
        w = torch.exp(logw) * x_mask * length_scale
        return torch.ceil(w), m_p, logs_p, x_mask, g

    def infer(self, x, x_lengths, sid=None, noise_scale=0.667, length_scale=1.0, noise_scale_w=0.8):
        w_ceil, m_p, logs_p, x_mask, g = self.durations(x, x_lengths, sid, length_scale, noise_scale_w)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        y_mask = torch.unsqueeze(sequence_mask(y_lengths, y_lengths.max()), 1).type_as(x_mask)
        attn = generate_path(w_ceil, torch.unsqueeze(x_mask, 2) * torch.unsqueeze(y_mask, -1))
        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, g=g)
        return self.dec((z * y_mask)[:, :, :None], g=g)


def english_like_ids(length, generator):
    """Ids laid out as Piper feeds an English voice: ^ _ (phoneme _)* $, phonemes from the English map (3-129)."""
    n = (length - 3) // 2
    ph = torch.randint(3, 130, (n,), generator=generator)
    ids = [1, 0] + [int(v) for p in ph for v in (p, 0)] + [2]
    return torch.LongTensor([ids])


def calibrate(model, frames_per_id, sid):
    """Set the duration predictor's last affine step (flows.0, applied as (z - m) * exp(-logs)) so that a mean id
    lasts `frames_per_id` frames at noise_w 0.8, length_scale 1. Bisection on m; the spread is kept narrow."""
    aff = model.dp.flows['0']
    g = torch.Generator().manual_seed(7)
    batches = [english_like_ids(n, g) for n in (41, 81, 161)]
    with torch.no_grad():
        aff.logs.fill_(math.log(4.0))  # logw = (z - m) / 4
        lo, hi = -40.0, 40.0
        for _ in range(24):  # 80 / 2**24: far finer than one frame
            mid = (lo + hi) / 2
            aff.m.fill_(mid)
            torch.manual_seed(1)
            frames = sum(float(model.durations(ids, torch.LongTensor([ids.size(1)]), sid)[0].sum()) for ids in batches)
            mean = frames / sum(ids.size(1) for ids in batches)
            if mean > frames_per_id:
                lo = mid  # larger m -> shorter
            else:
                hi = mid
        return mean


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('output')
    parser.add_argument('--speakers', type=int, default=1)
    parser.add_argument('--frames-per-id', type=float, default=2.54)
    parser.add_argument('--seed', type=int, default=1234)
    args = parser.parse_args()
    t0 = time.time()
    torch.manual_seed(args.seed)
    c = MEDIUM
    model = Synthesizer(c, args.speakers).eval()
    # Random weights everywhere: also where Piper initialises with zeros (coupling `post`, spline `proj`), so that
    # no layer of the stand-in is an identity.
    with torch.no_grad():
        for flow in model.flow.flows.values():
            flow.post.weight.normal_(0.0, 0.02)
        for i in ('3', '5', '7'):
            model.dp.flows[i].proj.weight.normal_(0.0, 0.02)
        model.dec.remove_weight_norm()  # export_onnx.py: model_g.dec.remove_weight_norm(); the flow keeps its own
    sid = torch.LongTensor([0]) if args.speakers > 1 else None
    mean_frames = calibrate(model, args.frames_per_id, sid)

    count = lambda m: sum(p.numel() for p in m.parameters())
    params = {name: count(m) for name, m in model.named_children()}
    params['total'] = count(model)

    def infer_forward(text, text_lengths, scales, sid=None):
        audio = model.infer(text, text_lengths, sid=sid, noise_scale=scales[0], length_scale=scales[1], noise_scale_w=scales[2])
        return audio.unsqueeze(1)

    model.forward = infer_forward
    with torch.no_grad():
        torch.manual_seed(3)
        ids = english_like_ids(101, torch.Generator().manual_seed(3))
        audio = infer_forward(ids, torch.LongTensor([ids.size(1)]), torch.FloatTensor([0.667, 1.0, 0.8]), sid)
        check = {'ids': ids.size(1), 'samples': audio.shape[-1], 'finite': bool(torch.isfinite(audio).all()), 'peak': float(audio.abs().max())}
    t_build = time.time() - t0

    sequences = torch.randint(low=0, high=c['num_symbols'], size=(1, 50), dtype=torch.long)
    dummy = (sequences, torch.LongTensor([sequences.size(1)]), torch.FloatTensor([0.667, 1.0, 0.8]), sid)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            model=model, args=dummy, f=args.output, verbose=False, opset_version=15,
            input_names=['input', 'input_lengths', 'scales', 'sid'], output_names=['output'],
            dynamic_axes={'input': {0: 'batch_size', 1: 'phonemes'}, 'input_lengths': {0: 'batch_size'}, 'output': {0: 'batch_size', 1: 'time'}},
        )
    print(json.dumps({
        'torch': torch.__version__, 'config': c, 'speakers': args.speakers, 'params': params,
        'calibration': {'frames_per_id_target': args.frames_per_id, 'frames_per_id': round(mean_frames, 3),
                        'dp_affine_m': float(model.dp.flows['0'].m[0]), 'dp_affine_logs': float(model.dp.flows['0'].logs[0])},
        'check': check, 'build_s': round(t_build, 2), 'total_s': round(time.time() - t0, 2),
    }))


if __name__ == '__main__':
    sys.exit(main())
