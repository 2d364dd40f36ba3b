#!/usr/bin/python3
"""torch_parity.py — the PyTorch side of kiln's parity test (tests/t_parity.sh).

    /usr/bin/python3 tests/parity/torch_parity.py [--cases FILE] [--quiet] NAME DIR [NAME DIR ...]

DIR holds what tests/parity/harness.c wrote for case NAME (a line of
tests/parity/cases.txt): the kiln model's initial parameters, three fixed
minibatches, and after each of kiln's three train_steps the batch-mean loss
and every parameter.  This script builds the same model in PyTorch (float32,
the default dtype) from the same initial parameters, runs the same three
optimizer steps on the same batches with torch.optim, and compares the loss
and every parameter after each step with kiln's, printing the largest
difference per tensor per step (in the manner of llm.c's test_gpt2.c) and one
line per case:  PASS parity/NAME (...)  or  FAIL parity/NAME: ...

The bound: 1e-5.  The loss: |kiln − torch| / |torch|.  A parameter tensor,
after each step: every element i within 1e-5 · S of PyTorch, S = max|torch|
over the tensor (the normwise relative difference, max|Δ| / max|p|).

Why S and not |p_i| (or a small floor such as 1e-3·S): float32 guarantees
nothing elementwise.  A GEMM or sum is accurate to ~k·ε of Σ|terms|, not of
|Σ terms|, and an update (lr·gradient) is as large as the tensor's updates
are, whatever the element's own value: a weight that sits near 0, a bias
crossing 0, a gradient element that is a near-cancelling sum, all carry the
absolute error of their neighbours.  Measured on these cases, PyTorch's own
float32 run differs from its float64 run by up to 1.4e-4 with a 1e-3·S floor
(so no float32 program could meet 1e-5 that way), by ≤ 4e-7 normwise for
every SGD case.  1e-5·S is ~84 float32 ulps of the largest element; a wrong
rule moves parameters by far more (a step is ≥ 1e-3·S; weight decay 0.01 at
lr 0.1 alone is ~2e-4·S per step).

Values float32 cannot pin down.  Adam divides by √v + eps per element, so an
element whose gradient is a near-cancelling sum (|g| ≈ 1e-9 out of terms
summing to 1e-3 in magnitude, or ∇ ≈ −wd·p) with |g| ≲ eps gets a full-size
update that is mostly rounding noise: PyTorch float32 vs float64 differ there
by up to 1.7e-4·S (default Adam, eps 1e-8).  Which elements those are is
decided from PyTorch alone, never from kiln: PyTorch is run in float64 and,
in float32, ORDERS more times with the rows of every batch in other orders
(same mean loss, different rounding); an element whose float32 runs stray
from float64 by more than DETERMINED·S (3e-7, ~2.5 ulps of the largest
element) is not determined by float32 arithmetic to that level, and kiln's
value there must instead be within max(1e-5, 2 × PyTorch's largest float32
error in that tensor)·S of float64 — no worse than PyTorch itself.  The
count of such values is printed in the PASS line (0 for most SGD cases).
Batch norm makes many: the gradient of a bias right before it is exactly
zero (it subtracts the channel's mean), so such a bias starting at zero
(lenet_bn) holds only rounding noise, S included; and the ResNet's loss
hardly changes along the directions batch norm makes it blind to, so the
gradients along them are near-cancelling sums.  How close a program comes
there depends on how accurately it sums the batch's statistics: a mean in
error leaves Σx̂ ≠ 0, and dx = γ/σ·(dy − dβ/M − x̂·dγ/M) no longer sums
to zero over the channel.

Columns of the table: rel (kiln vs PyTorch float32, normwise, all
elements); kiln/f64 and torch/f64 (each float32 run against float64 —
equal sizes mean the difference is rounding: GEMM summation order, kiln's
x·(1/255) against torch's x/255); undet (values float32 cannot pin down);
and, not part of the bound, update (this step's change p_t − p_{t−1}, kiln
vs PyTorch, relative to the largest change: how closely gradient and
optimizer step agree), elem (elementwise relative with a 1e-3·S floor) and
abs (max |kiln − torch|).

The PyTorch model: nn.Linear per kiln linear (kiln stores a weight (in, out),
nn.Linear.weight is (out, in): loaded transposed), the activations named in
cases.txt, inputs = bytes / 255 as float32 (as torchvision's ToTensor),
nn.CrossEntropyLoss() (the batch mean), torch.optim.SGD / torch.optim.Adam
with the spec's hyperparameters.
"""
import os
import sys

BOUND = 1e-5
DETERMINED = 3e-7
UNDETERMINED_FACTOR = 2.0
ORDERS = 3


def split_items(text, sep):
    """text split at every sep outside parentheses: the layer list's items
    (sep ','), a residual block's paths ('|') and a path's items (';')."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth < 0:
                raise ValueError('unbalanced parentheses in %r' % text)
        elif c == sep and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError('unbalanced parentheses in %r' % text)
    items.append(text[start:])
    return items


def read_cases(path):
    cases = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            name, spec, layers, opt = line[0], line[1], split_items(line[2], ','), line[3]
            kw = {}
            for item in line[4:]:
                k, v = item.split('=', 1)
                kw[k] = float(v)
            cases[name] = (spec, layers, opt, kw)
    return cases


def read_manifest(d, np):
    header, arrays = {}, {}
    with open(os.path.join(d, 'manifest.txt')) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] != 'tensor':
                header[parts[0]] = line.split(None, 1)[1].strip() if len(parts) > 1 else ''
                continue
            name, dtype, dims = parts[1], parts[2], [int(x) for x in parts[3:]]
            a = np.fromfile(os.path.join(d, name + '.bin'), dtype={'f32': '<f4', 'u8': 'u1'}[dtype])
            count = int(np.prod(dims)) if dims else 1
            if a.size != count:
                raise ValueError('%s: %d values, the manifest says %s' % (name, a.size, dims))
            arrays[name] = a.reshape(dims)
    return header, arrays


def build(torch, layers, params, dtype):
    """The PyTorch model from the layer list and kiln's initial tensors.  An
    item res(a;b;...) is a residual block: x + Sequential(a, b, ...)(x);
    res(a;b;...|c;d;...) one whose shortcut has layers of its own:
    Sequential(a, b, ...)(x) + Sequential(c, d, ...)(x), the body's
    parameters before the shortcut's (kiln's order for add(body, shortcut));
    items nest, so a ';' or '|' inside parentheses belongs to the inner item.
    view(C;H;W) unflattens the input rows into images; conv(K;S;P) is
    nn.Conv2d with kernel K, stride S, padding P; avgpool(K) and maxpool(K)
    the pools; gap global average pooling (nn.AdaptiveAvgPool2d(1), as
    kiln's global_avg_pool2d: (N, C, 1, 1)); flatten nn.Flatten; bn and bn2d
    nn.BatchNorm1d and nn.BatchNorm2d (PyTorch's defaults: momentum 0.1, eps
    1e-5), whose running statistics are compared like the parameters."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut=None):
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x):
            if self.shortcut is None:
                return x + self.body(x)
            return self.body(x) + self.shortcut(x)

    lin, conv, bn = [0], [0], [0]
    named = {}   # kiln's tensor name → the torch parameter, in kiln's order

    def args(item):
        return [int(a) for a in item[item.index('(') + 1:-1].split(';')]

    def sequence(items):
        mods = []
        for l in items:
            if l.startswith('res(') and l.endswith(')'):
                paths = split_items(l[4:-1], '|')
                if len(paths) > 2:
                    raise ValueError('%s: a residual block has a body and at most one shortcut' % l)
                mods.append(Residual(*[sequence(split_items(p, ';')) for p in paths]))
            elif l.startswith('view('):
                mods.append(nn.Unflatten(1, tuple(args(l))))
            elif l.startswith('conv('):
                k, s, p = args(l)
                conv[0] += 1
                w = params['conv2d%d.weight' % conv[0]]     # kiln and torch: (out, in, kh, kw)
                b = params.get('conv2d%d.bias' % conv[0])
                m = nn.Conv2d(w.shape[1], w.shape[0], k, stride=s, padding=p, bias=b is not None).to(dtype)
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(w.copy()).to(dtype))
                    if b is not None:
                        m.bias.copy_(torch.from_numpy(b.copy()).to(dtype))
                named['conv2d%d.weight' % conv[0]] = m.weight
                if b is not None:
                    named['conv2d%d.bias' % conv[0]] = m.bias
                mods.append(m)
            elif l in ('bn', 'bn2d'):
                bn[0] += 1
                base = 'batch_norm%d.' % bn[0]
                m = (nn.BatchNorm1d if l == 'bn' else nn.BatchNorm2d)(params[base + 'weight'].shape[0]).to(dtype)
                with torch.no_grad():
                    for k, t in (('weight', m.weight), ('bias', m.bias), ('running_mean', m.running_mean),
                                 ('running_var', m.running_var)):
                        t.copy_(torch.from_numpy(params[base + k].copy()).to(dtype))
                        named[base + k] = t
                mods.append(m)
            elif l.startswith('avgpool('):
                mods.append(nn.AvgPool2d(args(l)[0]))
            elif l.startswith('maxpool('):
                mods.append(nn.MaxPool2d(args(l)[0]))
            elif l == 'gap':
                mods.append(nn.AdaptiveAvgPool2d(1))
            elif l == 'flatten':
                mods.append(nn.Flatten())
            elif l == 'linear':
                lin[0] += 1
                w = params['linear%d.weight' % lin[0]]      # kiln: (in, out)
                b = params.get('linear%d.bias' % lin[0])
                m = nn.Linear(w.shape[0], w.shape[1], bias=b is not None).to(dtype)
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(w.T.copy()).to(dtype))
                    if b is not None:
                        m.bias.copy_(torch.from_numpy(b.copy()).to(dtype))
                named['linear%d.weight' % lin[0]] = m.weight
                if b is not None:
                    named['linear%d.bias' % lin[0]] = m.bias
                mods.append(m)
            else:
                mods.append({'relu': nn.ReLU, 'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh}[l]())
        return nn.Sequential(*mods)

    return sequence(layers), named


def make_optimizer(torch, opt, kw, params):
    if opt == 'SGD':
        return torch.optim.SGD(params, lr=kw['lr'], momentum=kw.get('momentum', 0.0),
                               weight_decay=kw.get('weight_decay', 0.0))
    if opt == 'Adam':
        return torch.optim.Adam(params, lr=kw.get('lr', 1e-3),
                                betas=(kw.get('beta1', 0.9), kw.get('beta2', 0.999)),
                                eps=kw.get('eps', 1e-8), weight_decay=kw.get('weight_decay', 0.0))
    raise ValueError('unknown optimizer ' + opt)


def run(torch, np, layers, opt, kw, init, batches, dtype):
    """Steps on the batches; returns [(loss, {name: kiln-shaped array})] with
    step 0 = the initial parameters (loss None), and then the model's
    probabilities for the first batch in evaluation mode."""
    model, named = build(torch, layers, init, dtype)
    optim = make_optimizer(torch, opt, kw, list(model.parameters()))
    ce = torch.nn.CrossEntropyLoss()

    def snapshot():
        return {k: (p.detach().T if p.dim() == 2 else p.detach()).numpy().astype(np.float64)
                for k, p in named.items()}

    out = [(None, snapshot())]
    for x, y in batches:
        xt = torch.from_numpy(x.astype(np.float32)).to(dtype) / 255
        yt = torch.from_numpy(y.astype(np.int64))
        optim.zero_grad()
        loss = ce(model(xt), yt)
        loss.backward()
        optim.step()
        out.append((float(loss.item()), snapshot()))
    model.eval()
    with torch.no_grad():
        x0 = torch.from_numpy(batches[0][0].astype(np.float32)).to(dtype) / 255
        probs = torch.softmax(model(x0), dim=1).numpy().astype(np.float64)
    return out, probs


def compare(k, t, e, spread, np):
    """One tensor after one step: kiln k, PyTorch float32 t, PyTorch float64 e,
    and spread = the largest |float32 − float64| over PyTorch's float32 runs
    (all float64 arrays in kiln's shapes).  Returns a dict of the measures;
    the top of the file says what they mean."""
    scale = max(float(np.max(np.abs(t))), 1e-30)
    dkt, dke = np.abs(k - t), np.abs(k - e)
    und = spread > DETERMINED * scale
    r = {
        'rel': float(np.max(dkt)) / scale,
        'elem': float(np.max(dkt / np.maximum(np.abs(t), 1e-3 * scale))),
        'kiln64': float(np.max(dke)) / scale,
        'torch64': float(np.max(spread)) / scale,
        'nund': int(np.count_nonzero(und)),
        'det': float(np.max(np.where(und, 0.0, dkt))) / scale,
        'und_kiln': float(np.max(np.where(und, dke, 0.0))) / scale,
        'und_torch': float(np.max(np.where(und, spread, 0.0))) / scale,
    }
    r['ok'] = r['det'] <= BOUND and r['und_kiln'] <= max(BOUND, UNDETERMINED_FACTOR * r['und_torch'])
    return r


def check(name, case, d, torch, np, quiet):
    spec, layers, opt, kw = case
    header, arr = read_manifest(d, np)
    steps = int(header['steps'])
    tensors = [k[len('step0.'):] for k in arr if k.startswith('step0.')]
    init = {k: arr['step0.' + k] for k in tensors}
    batches = [(arr['batch%d.x' % s], arr['batch%d.labels' % s]) for s in range(1, steps + 1)]
    kiln = [(None, {k: init[k].astype(np.float64) for k in tensors})]
    for s in range(1, steps + 1):
        kiln.append((float(arr['step%d.loss' % s]),
                     {k: arr['step%d.%s' % (s, k)].astype(np.float64) for k in tensors}))

    t32, p32 = run(torch, np, layers, opt, kw, init, batches, torch.float32)
    t64, p64 = run(torch, np, layers, opt, kw, init, batches, torch.float64)
    pspread = np.abs(p32 - p64)
    # PyTorch's own float32 rounding, sampled: the same steps with the rows
    # of every batch in other orders (the same mean loss, summed differently)
    spread = [{k: np.abs(t32[s][1][k] - t64[s][1][k]) for k in tensors} for s in range(steps + 1)]
    rs = np.random.RandomState(12345)
    for _ in range(ORDERS):
        perms = [rs.permutation(len(y)) for _, y in batches]
        alt, palt = run(torch, np, layers, opt, kw, init, [(x[p], y[p]) for (x, y), p in zip(batches, perms)],
                        torch.float32)
        inv = np.argsort(perms[0])   # the first batch's rows came in another order
        pspread = np.maximum(pspread, np.abs(palt[inv] - p64))
        for s in range(steps + 1):
            for k in tensors:
                spread[s][k] = np.maximum(spread[s][k], np.abs(alt[s][1][k] - t64[s][1][k]))
    if sorted(t32[0][1]) != sorted(tensors):
        print('FAIL parity/%s: kiln has tensors %s, the PyTorch model %s (layers %s in cases.txt)'
              % (name, ', '.join(tensors), ', '.join(t32[0][1]), ','.join(layers)))
        return False
    for k in tensors:
        if t32[0][1][k].shape != init[k].shape:
            print('FAIL parity/%s: %s is %s in kiln, %s in PyTorch' % (name, k, init[k].shape, t32[0][1][k].shape))
            return False

    lines = ['parity/%s: %s, torch.optim.%s(%s), data %s, batches of %s rows' % (
        name, spec, opt, ', '.join('%s=%g' % kv for kv in kw.items()), header.get('data', '?'),
        ', '.join(str(b[0].shape[0]) for b in batches))]
    lines.append('  %-4s %-15s %-8s %9s %9s %9s %6s %9s %9s %9s' % (
        'step', 'tensor', 'shape', 'rel', 'kiln/f64', 'torch/f64', 'undet', 'update', 'elem', 'abs'))
    worst_loss, worst, fails, und = 0.0, (0.0, 0, '-'), [], []
    for s in range(1, steps + 1):
        kl, tl, dl = kiln[s][0], t32[s][0], t64[s][0]
        r = abs(kl - tl) / abs(tl)
        worst_loss = max(worst_loss, r)
        if not r <= BOUND:
            fails.append('loss %.2e after step %d' % (r, s))
        lines.append('  %-4d %-15s %-8s %9.2e %9.2e %9.2e %6s %9s %9s %9.2e   (kiln %.9g, torch %.9g)' % (
            s, 'loss', '', r, abs(kl - dl) / abs(dl), abs(tl - dl) / abs(dl), '', '', '', abs(kl - tl), kl, tl))
        for k in tensors:
            a, b, c = kiln[s][1][k], t32[s][1][k], t64[s][1][k]
            m = compare(a, b, c, spread[s][k], np)
            du = a - kiln[s - 1][1][k]
            dt = b - t32[s - 1][1][k]
            upd = float(np.max(np.abs(du - dt))) / max(float(np.max(np.abs(dt))), 1e-30)
            worst = max(worst, (m['det'], s, k))
            if m['nund']:
                und.append((m['nund'], m['und_kiln'], m['und_torch'], s, k))
            if not m['ok']:
                fails.append('%s after step %d: %.2e' % (k, s, m['det']) + (
                    '' if m['und_kiln'] <= max(BOUND, UNDETERMINED_FACTOR * m['und_torch']) else
                    ' (beyond float32: kiln %.2e from float64, PyTorch %.2e)' % (m['und_kiln'], m['und_torch'])))
            lines.append('  %-4d %-15s %-8s %9.2e %9.2e %9.2e %6d %9.2e %9.2e %9.2e' % (
                s, k, 'x'.join(map(str, a.shape)), m['rel'], m['kiln64'], m['torch64'], m['nund'], upd, m['elem'],
                float(np.max(np.abs(a - b)))))
    if 'eval.probs' in arr and any('.running_' in k for k in tensors):   # evaluation: the running statistics
        m = compare(arr['eval.probs'].astype(np.float64), p32, p64, pspread, np)
        lines.append('  %-4s %-15s %-8s %9.2e %9.2e %9.2e %6d' % (
            'eval', 'probabilities', 'x'.join(map(str, p32.shape)), m['rel'], m['kiln64'], m['torch64'], m['nund']))
        worst = max(worst, (m['det'], steps, 'eval.probs'))
        if not m['ok']:
            fails.append('evaluation-mode probabilities: %.2e' % m['det'])
    note = ''
    if und:
        n = sum(u[0] for u in und)
        uk = max(u[1] for u in und)
        ut = max(u[2] for u in und)
        note = ('; %d values float32 cannot pin to %g (PyTorch float32 vs float64 up to %.1e) judged against '
                'float64 instead: kiln within %.1e' % (n, DETERMINED, ut, uk))
    lines.append('  max: loss %.2e, parameters %.2e (%s after step %d); bound %g%s'
                 % (worst_loss, worst[0], worst[2], worst[1], BOUND, note))
    ok = not fails
    if not quiet or not ok:
        print('\n'.join(lines))
    if ok:
        print('PASS parity/%s (%d steps: loss within %.1e, parameters within %.1e of PyTorch; bound %g%s)'
              % (name, steps, worst_loss, worst[0], BOUND, note))
    else:
        print('FAIL parity/%s: %d above the bound %g: %s' % (name, len(fails), BOUND, '; '.join(fails[:3])))
    return ok


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    cases_file, quiet = os.path.join(here, 'cases.txt'), False
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == '--cases':
            cases_file = argv[i + 1]
            i += 2
            continue
        if argv[i] == '--quiet':
            quiet = True
        else:
            args.append(argv[i])
        i += 1
    if not args or len(args) % 2:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    try:
        import numpy as np
        import torch
    except Exception as e:   # t_parity.sh checks first; this is for direct use
        print('SKIP parity: /usr/bin/python3 cannot import torch (%s)' % e)
        return 0
    torch.manual_seed(0)          # nothing random is drawn; for certainty
    cases = read_cases(cases_file)
    failed = 0
    for name, d in zip(args[0::2], args[1::2]):
        if name not in cases:
            print('FAIL parity/%s: not in %s' % (name, cases_file))
            failed += 1
            continue
        try:
            if not check(name, cases[name], d, torch, np, quiet):
                failed += 1
        except Exception as e:
            print('FAIL parity/%s: %s: %s' % (name, type(e).__name__, e))
            failed += 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
