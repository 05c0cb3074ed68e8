"""Answers to measure the similarity report on: honest rewrites and copies of solutions/.

``HONEST[exercise]``: independent answers, written without looking at the published
solution's code (only the exercise's task): another order of steps, other helpers, loops
where the solution vectorises, or the reverse. Two of them, or one and the solution, must
*not* be reported.

``COPIES[exercise]``: what a student who pasted the published solution hands in: names
changed, comments and docstrings rewritten, constants respelled (``2.0`` -> ``2``),
independent statements reordered, a line split in two or a print added. Each must be
reported against the solution.

The file is data for ``tests/grader/test_similarity.py`` (which measures the rates); every
answer here is also a right answer (the test checks it against the grader's references).
"""

HONEST = {
    "linear_regression_gradient": [
        '''def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    """Gradient of the weighted mean squared error plus lam |w|^2 with respect to w and b: (dw, db)."""
    total = np.sum(sample_weight)
    errors = np.dot(X, w) + b - y
    weighted = sample_weight * errors
    grad_w = np.dot(weighted, X) * (2 / total) + 2 * lam * w
    grad_b = 2 * np.sum(weighted) / total
    return grad_w, grad_b
''',
        '''def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    """Gradient of the weighted mean squared error plus lam |w|^2 with respect to w and b: (dw, db)."""
    # average of the per-sample gradients 2 r_i (x_i, 1), weighted by s_i
    r = X.dot(w) + b - y
    dw = np.average(2 * r[:, None] * X, axis=0, weights=sample_weight)
    return dw + 2 * lam * w, np.average(2 * r, weights=sample_weight)
''',
        '''def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    """Gradient of the weighted mean squared error plus lam |w|^2 with respect to w and b: (dw, db)."""
    N, D = X.shape
    dw = np.zeros(D)
    db = 0.0
    for i in range(N):
        r = X[i] @ w + b - y[i]
        dw += 2 * sample_weight[i] * r * X[i]
        db += 2 * sample_weight[i] * r
    dw /= sample_weight.sum()
    db /= sample_weight.sum()
    dw += 2 * lam * w
    return dw, db
''',
    ],
    "softmax_cross_entropy_backward": [
        '''def softmax_cross_entropy_backward(logits, labels, smoothing):
    """dL/dlogits (N, K) of the mean cross-entropy against label-smoothed targets."""
    N, K = logits.shape
    z = logits - np.max(logits, axis=-1)[:, None]
    e = np.exp(z)
    p = e / np.sum(e, axis=-1)[:, None]
    onehot = np.eye(K)[labels]
    t = onehot * (1 - smoothing) + smoothing / K
    return (p - t) / N
''',
        '''def softmax_cross_entropy_backward(logits, labels, smoothing):
    """dL/dlogits (N, K) of the mean cross-entropy against label-smoothed targets."""
    batch, classes = logits.shape
    grad = np.empty_like(logits, dtype=float)
    for row in range(batch):
        a = logits[row] - logits[row].max()
        soft = np.exp(a) / np.exp(a).sum()
        target = np.ones(classes) * smoothing / classes
        target[labels[row]] = target[labels[row]] + 1 - smoothing
        grad[row] = soft - target
    return grad / batch
''',
        '''def softmax_cross_entropy_backward(logits, labels, smoothing):
    """dL/dlogits (N, K) of the mean cross-entropy against label-smoothed targets."""
    n = logits.shape[0]
    log_z = np.log(np.sum(np.exp(logits - logits.max(1, keepdims=True)), 1, keepdims=True))
    probabilities = np.exp(logits - logits.max(1, keepdims=True) - log_z)
    smooth = np.full_like(probabilities, smoothing / logits.shape[1])
    smooth[np.arange(n), labels] = smooth[np.arange(n), labels] + (1.0 - smoothing)
    return (probabilities - smooth) / n
''',
    ],
    "adamw_update": [
        '''def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step after t steps already taken; returns (w, m, v)."""
    m_new = beta1 * m + (1 - beta1) * dw
    v_new = beta2 * v + (1 - beta2) * np.square(dw)
    # this call is step number t + 1; the decay acts on the weights before the step
    w_new = w * (1 - lr * weight_decay)
    w_new = w_new - lr * (m_new / (1 - beta1 ** (t + 1))) / (np.sqrt(v_new / (1 - beta2 ** (t + 1))) + eps)
    return w_new, m_new, v_new
''',
        '''def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step after t steps already taken; returns (w, m, v)."""
    n = t + 1
    first = m * beta1 + dw * (1.0 - beta1)
    second = v * beta2 + dw * dw * (1.0 - beta2)
    corrected_first = first / (1.0 - np.power(beta1, n))
    corrected_second = second / (1.0 - np.power(beta2, n))
    update = corrected_first / (corrected_second ** 0.5 + eps) + weight_decay * w
    return w - lr * update, first, second
''',
        '''def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step after t steps already taken; returns (w, m, v)."""
    new_m, new_v, new_w = m.copy(), v.copy(), w.copy()
    new_w *= 1 - lr * weight_decay
    new_m *= beta1
    new_m += (1 - beta1) * dw
    new_v *= beta2
    new_v += (1 - beta2) * dw * dw
    bias1, bias2 = 1 - beta1 ** (t + 1), 1 - beta2 ** (t + 1)
    new_w -= lr * (new_m / bias1) / (np.sqrt(new_v / bias2) + eps)
    return new_w, new_m, new_v
''',
    ],
    "groupnorm_forward": [
        '''def groupnorm_forward(x, gamma, beta, groups, eps):
    """GroupNorm of x (N, C) with `groups` groups of C // groups features; returns y (N, C)."""
    size = x.shape[1] // groups
    out = np.empty_like(x, dtype=float)
    for g in range(groups):
        part = x[:, g * size:(g + 1) * size]
        mu = part.mean(axis=1, keepdims=True)
        sigma2 = ((part - mu) ** 2).mean(axis=1, keepdims=True)
        out[:, g * size:(g + 1) * size] = (part - mu) / np.sqrt(sigma2 + eps)
    return out * gamma + beta
''',
        '''def groupnorm_forward(x, gamma, beta, groups, eps):
    """GroupNorm of x (N, C) with `groups` groups of C // groups features; returns y (N, C)."""
    N, C = x.shape
    g = x.reshape(N * groups, -1)
    mean = np.mean(g, axis=1)[:, None]
    std = np.sqrt(np.mean(np.square(g - mean), axis=1)[:, None] + eps)
    normed = ((g - mean) / std).reshape(N, C)
    return normed * gamma[None, :] + beta[None, :]
''',
        '''def groupnorm_forward(x, gamma, beta, groups, eps):
    """GroupNorm of x (N, C) with `groups` groups of C // groups features; returns y (N, C)."""
    pieces = np.split(x, groups, axis=1)
    normalised = []
    for piece in pieces:
        centred = piece - np.mean(piece, axis=1, keepdims=True)
        variance = np.mean(centred * centred, axis=1, keepdims=True)
        normalised.append(centred / np.sqrt(variance + eps))
    return gamma * np.concatenate(normalised, axis=1) + beta
''',
    ],
    "maxpool_backward": [
        '''def maxpool_backward(dy, x, pool, stride):
    """dL/dx of max pooling; dy (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W)."""
    dx = np.zeros(x.shape)
    N, C, OH, OW = dy.shape
    for b in range(N):
        for c in range(C):
            for r in range(OH):
                for q in range(OW):
                    top, left = r * stride, q * stride
                    patch = x[b, c, top:top + pool, left:left + pool]
                    k = np.argmax(patch)
                    dx[b, c, top + k // pool, left + k % pool] += dy[b, c, r, q]
    return dx
''',
        '''def maxpool_backward(dy, x, pool, stride):
    """dL/dx of max pooling; dy (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W)."""
    grad = np.zeros_like(x)
    n, ch = x.shape[:2]
    batch_index, channel_index = np.meshgrid(np.arange(n), np.arange(ch), indexing="ij")
    for oi in range(dy.shape[2]):
        for oj in range(dy.shape[3]):
            rows = slice(oi * stride, oi * stride + pool)
            cols = slice(oj * stride, oj * stride + pool)
            flat = x[:, :, rows, cols].reshape(n, ch, pool * pool)
            best = flat.argmax(-1)
            np.add.at(
                grad,
                (batch_index, channel_index, oi * stride + best // pool, oj * stride + best % pool),
                dy[:, :, oi, oj],
            )
    return grad
''',
        '''def maxpool_backward(dy, x, pool, stride):
    """dL/dx of max pooling; dy (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W)."""
    result = np.zeros_like(x)
    for index in np.ndindex(*dy.shape):
        s, c, i, j = index
        window = x[s, c, i * stride:i * stride + pool, j * stride:j * stride + pool]
        where = np.unravel_index(np.argmax(window), window.shape)
        result[s, c, i * stride + where[0], j * stride + where[1]] += dy[index]
    return result
''',
    ],
    "conv2d_input_gradient": [
        '''def conv2d_input_gradient(dy, W, height, width, stride, pad):
    """dL/dx (N, C, height, width) of a strided, padded cross-correlation with filters W."""
    n, f, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    # every (output, tap) pair at once: where it lands in the padded input, and what it carries
    i, j, u, v = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw), indexing="ij")
    rows, cols = (i * stride + u).ravel(), (j * stride + v).ravel()
    values = np.einsum("nfij,fcuv->ncijuv", dy, W).reshape(n, c, -1)
    target = np.zeros(dy.shape[:1] + W.shape[1:2] + (height + 2 * pad, width + 2 * pad))
    np.add.at(target, (slice(None), slice(None), rows, cols), values)
    inner = target[..., pad:, pad:]  # the padding's share is dropped
    return np.array(inner[..., :height, :width])
''',
        '''def conv2d_input_gradient(dy, W, height, width, stride, pad):
    """dL/dx (N, C, height, width) of a strided, padded cross-correlation with filters W."""
    N, F, OH, OW = dy.shape
    Fw, C, KH, KW = W.shape
    Hp, Wp = height + 2 * pad, width + 2 * pad
    g = np.zeros((N, C, Hp, Wp))
    for a in range(KH):
        for b in range(KW):
            contrib = np.tensordot(dy, W[:, :, a, b], axes=([1], [0]))  # (N, OH, OW, C)
            g[:, :, a:a + stride * (OH - 1) + 1:stride, b:b + stride * (OW - 1) + 1:stride] += contrib.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(g[:, :, pad:Hp - pad, pad:Wp - pad])
''',
        '''def conv2d_input_gradient(dy, W, height, width, stride, pad):
    """dL/dx (N, C, height, width) of a strided, padded cross-correlation with filters W."""
    n, f, oh, ow = dy.shape
    c, kh, kw = W.shape[1], W.shape[2], W.shape[3]
    dx = np.zeros((n, c, height, width))
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    r = i * stride + a - pad
                    if not 0 <= r < height:
                        continue
                    for b in range(kw):
                        q = j * stride + b - pad
                        if 0 <= q < width:
                            dx[s, :, r, q] += W[:, :, a, b].T @ dy[s, :, i, j]
    return dx
''',
    ],
    "clip_by_global_norm": [
        '''def clip_by_global_norm(grads, max_norm):
    """Gradients scaled so that their global norm is at most max_norm; a list."""
    norm = np.sqrt(np.sum([np.vdot(g, g) for g in grads]))
    if norm <= max_norm:
        return [g.copy() for g in grads]
    return [g * (max_norm / norm) for g in grads]
''',
        '''def clip_by_global_norm(grads, max_norm):
    """Gradients scaled so that their global norm is at most max_norm; a list."""
    squares = 0.0
    for g in grads:
        squares += float((g**2).sum())
    factor = max_norm / max(squares**0.5, max_norm)
    clipped = []
    for g in grads:
        clipped.append(g * factor)
    return clipped
''',
        '''def clip_by_global_norm(grads, max_norm):
    """Gradients scaled so that their global norm is at most max_norm; a list."""
    flat = np.concatenate([np.ravel(g) for g in grads])
    global_norm = np.linalg.norm(flat)
    ratio = 1.0 if global_norm == 0 else min(1.0, max_norm / global_norm)
    return list(map(lambda g: ratio * g, grads))
''',
    ],
    "conv_transpose_from_keras": [
        '''def conv_transpose_from_keras(kernel):
    """A Keras Conv2DTranspose kernel as minidl's Conv2DTranspose W (C_in, F, KH, KW)."""
    return np.transpose(kernel, (3, 2, 0, 1)).copy()
''',
        '''def conv_transpose_from_keras(kernel):
    """A Keras Conv2DTranspose kernel as minidl's Conv2DTranspose W (C_in, F, KH, KW)."""
    w = np.moveaxis(kernel, (3, 2), (0, 1))
    return np.ascontiguousarray(w)
''',
    ],
    "l1_proximal_step": [
        '''def l1_proximal_step(w, grad, lr, lam):
    """One proximal-gradient step for loss + lam * sum(|w|); returns the new weights."""
    stepped = w - grad * lr
    return np.sign(stepped) * np.clip(np.abs(stepped) - lam * lr, 0.0, None)
''',
        '''def l1_proximal_step(w, grad, lr, lam):
    """One proximal-gradient step for loss + lam * sum(|w|); returns the new weights."""
    t = lr * lam
    z = w - lr * grad
    out = np.zeros_like(z)
    above, below = z > t, z < -t
    out[above] = z[above] - t
    out[below] = z[below] + t
    return out
''',
    ],
}

COPIES = {
    "linear_regression_gradient": [
        '''def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    """returns dw and db for the weighted ridge loss"""
    frac = sample_weight / sample_weight.sum()  # share of every sample
    g = 2 * frac * (X @ w + b - y)  # dL/dresidual
    return g @ X + 2 * lam * w, float(g.sum())
''',
        """def linear_regression_gradient(X, y, w, b, sample_weight, lam):
    share = sample_weight / sample_weight.sum()
    residual = X @ w + b - y
    scaled = 2 * share * residual
    print(scaled.shape)
    return scaled @ X + 2 * lam * w, float(scaled.sum())
""",
    ],
    "softmax_cross_entropy_backward": [
        '''def softmax_cross_entropy_backward(logits, labels, smoothing):
    """my gradient"""
    batch, classes = logits.shape
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    t = np.full((batch, classes), smoothing / classes)
    t[np.arange(batch), labels] += 1 - smoothing
    return (p - t) / batch
''',
        """def softmax_cross_entropy_backward(logits, labels, smoothing):
    N, K = logits.shape
    target = np.full((N, K), smoothing / K)
    target[np.arange(N), labels] += 1.0 - smoothing
    ex = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = ex / ex.sum(axis=1, keepdims=True)
    return (probabilities - target) / N
""",
    ],
    "adamw_update": [
        '''def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """adamw"""
    first = beta1 * m + (1 - beta1) * dw
    second = beta2 * v + (1 - beta2) * dw ** 2
    n = t + 1
    fh = first / (1 - beta1 ** n)
    sh = second / (1 - beta2 ** n)
    step = fh / (np.sqrt(sh) + eps)
    return w - lr * weight_decay * w - lr * step, first, second
''',
        """def adamw_update(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay):
    v = beta2 * v + (1.0 - beta2) * dw ** 2
    m = beta1 * m + (1.0 - beta1) * dw
    k = t + 1
    v_corr = v / (1.0 - beta2 ** k)
    m_corr = m / (1.0 - beta1 ** k)
    adam = m_corr / (np.sqrt(v_corr) + eps)
    return w - lr * weight_decay * w - lr * adam, m, v
""",
    ],
    "groupnorm_forward": [
        '''def groupnorm_forward(x, gamma, beta, groups, eps):
    """group norm"""
    N, C = x.shape
    g = x.reshape(N, groups, C // groups)
    diff = g - g.mean(axis=2, keepdims=True)  # subtract the mean
    normed = diff / np.sqrt(g.var(axis=2, keepdims=True) + eps)
    return gamma * normed.reshape(N, C) + beta
''',
        """def groupnorm_forward(x, gamma, beta, groups, eps):
    batch, channels = x.shape
    per_group = channels // groups
    reshaped = x.reshape(batch, groups, per_group)
    centered = reshaped - reshaped.mean(axis=2, keepdims=True)
    normalized = centered / np.sqrt(reshaped.var(axis=2, keepdims=True) + eps)
    out = gamma * normalized.reshape(batch, channels) + beta
    return out
""",
    ],
    "maxpool_backward": [
        '''def maxpool_backward(dy, x, pool, stride):
    """backward of max pool"""
    N, C, _, _ = x.shape
    grad = np.zeros_like(x)
    for a in range(dy.shape[2]):
        for b in range(dy.shape[3]):
            win = x[:, :, a * stride:a * stride + pool, b * stride:b * stride + pool]
            idx = win.reshape(N, C, -1).argmax(axis=2)
            r, q = np.unravel_index(idx, (pool, pool))
            for s in range(N):
                for k in range(C):
                    grad[s, k, a * stride + r[s, k], b * stride + q[s, k]] += dy[s, k, a, b]
    return grad
''',
        """def maxpool_backward(dy, x, pool, stride):
    dx = np.zeros_like(x)
    n, c = x.shape[0], x.shape[1]
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * stride:i * stride + pool, j * stride:j * stride + pool]
            flat_index = window.reshape(n, c, -1).argmax(axis=2)
            rows, cols = np.unravel_index(flat_index, (pool, pool))
            # route each output's gradient to the max of its window
            for sample in range(n):
                for channel in range(c):
                    r = i * stride + rows[sample, channel]
                    dx[sample, channel, r, j * stride + cols[sample, channel]] += dy[sample, channel, i, j]
    return dx
""",
    ],
    "conv2d_input_gradient": [
        '''def conv2d_input_gradient(dy, W, height, width, stride, pad):
    """conv2d_input_gradient"""
    N, F, OH, OW = dy.shape
    C, KH, KW = W.shape[1:]
    grad = np.zeros((N, C, height, width))
    for r in range(OH):
        for q in range(OW):
            sent = np.einsum("nf,fcab->ncab", dy[:, :, r, q], W)
            t, l = r * stride - pad, q * stride - pad
            y0, y1 = max(t, 0), min(t + KH, height)
            x0, x1 = max(l, 0), min(l + KW, width)
            grad[:, :, y0:y1, x0:x1] += sent[:, :, y0 - t:y1 - t, x0 - l:x1 - l]
    return grad
''',
        """def conv2d_input_gradient(dy, W, height, width, stride, pad):
    c, kh, kw = W.shape[1:]
    n, f, oh, ow = dy.shape
    dx = np.zeros((n, c, height, width))
    for i in range(oh):
        for j in range(ow):
            top, left = i * stride - pad, j * stride - pad
            back = np.einsum("nf,fcab->ncab", dy[:, :, i, j], W)
            r0 = max(top, 0)
            r1 = min(top + kh, height)
            q0, q1 = max(left, 0), min(left + kw, width)
            dx[:, :, r0:r1, q0:q1] += back[:, :, r0 - top:r1 - top, q0 - left:q1 - left]
    print("done")
    return dx
""",
    ],
    "clip_by_global_norm": [
        '''def clip_by_global_norm(grads, max_norm):
    """clip"""
    norm = np.sqrt(sum(np.sum(grad ** 2) for grad in grads))
    s = min(1, max_norm / norm) if norm > 0 else 1
    return [grad * s for grad in grads]
''',
        """def clip_by_global_norm(grads, max_norm):
    total_norm = np.sqrt(sum(np.sum(x ** 2) for x in grads))
    if total_norm > 0:
        factor = min(1.0, max_norm / total_norm)
    else:
        factor = 1.0
    return [x * factor for x in grads]
""",
    ],
}
