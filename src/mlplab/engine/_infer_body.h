/* One dense stack, written once and compiled for each (float type, instruction set): see _infer.c.
 * Expects T, SUF, TARGET, V, VW (lanes), M (a lane mask), VMASK(n) (the first n lanes), VZERO, VLOAD, VLOADM,
 * VSTORE, VSTOREM, VSET1, VFMA, SEXP, STANH. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SUF)

/* Every z[r, j] = Σ_k x[r, k] w[k, j] is summed k = 0, 1, ..., K-1 with one fused multiply-add each, in
 * every tile below: lanes are independent, a masked lane loads 0 and is not stored. */
#define FULL VMASK(VW)

/* 4 rows x 2 vectors of columns (j .. j + 2·VW), lanes beyond n0 / n1 masked off. */
TARGET static void F(tile4)(const T *x, Py_ssize_t ldx, const T *w, Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t N,
                            T *z, Py_ssize_t ldz, M m0, M m1, int masked) {
    const T *x0 = x, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    V a00 = VZERO, a01 = VZERO, a10 = VZERO, a11 = VZERO, a20 = VZERO, a21 = VZERO, a30 = VZERO, a31 = VZERO;
    if (k0 > 0) {  /* continue the sums stored by the previous block of k (a stored float is exact) */
        a00 = VLOADM(z, m0); a01 = VLOADM(z + VW, m1);
        a10 = VLOADM(z + ldz, m0); a11 = VLOADM(z + ldz + VW, m1);
        a20 = VLOADM(z + 2 * ldz, m0); a21 = VLOADM(z + 2 * ldz + VW, m1);
        a30 = VLOADM(z + 3 * ldz, m0); a31 = VLOADM(z + 3 * ldz + VW, m1);
    }
    for (Py_ssize_t k = k0; k < k1; k++) {
        const T *wk = w + k * N;
        V w0 = masked ? VLOADM(wk, m0) : VLOAD(wk), w1 = masked ? VLOADM(wk + VW, m1) : VLOAD(wk + VW), b;
        b = VSET1(x0[k]); a00 = VFMA(b, w0, a00); a01 = VFMA(b, w1, a01);
        b = VSET1(x1[k]); a10 = VFMA(b, w0, a10); a11 = VFMA(b, w1, a11);
        b = VSET1(x2[k]); a20 = VFMA(b, w0, a20); a21 = VFMA(b, w1, a21);
        b = VSET1(x3[k]); a30 = VFMA(b, w0, a30); a31 = VFMA(b, w1, a31);
    }
    if (masked) {
        VSTOREM(z, m0, a00); VSTOREM(z + VW, m1, a01);
        VSTOREM(z + ldz, m0, a10); VSTOREM(z + ldz + VW, m1, a11);
        VSTOREM(z + 2 * ldz, m0, a20); VSTOREM(z + 2 * ldz + VW, m1, a21);
        VSTOREM(z + 3 * ldz, m0, a30); VSTOREM(z + 3 * ldz + VW, m1, a31);
    } else {
        VSTORE(z, a00); VSTORE(z + VW, a01);
        VSTORE(z + ldz, a10); VSTORE(z + ldz + VW, a11);
        VSTORE(z + 2 * ldz, a20); VSTORE(z + 2 * ldz + VW, a21);
        VSTORE(z + 3 * ldz, a30); VSTORE(z + 3 * ldz + VW, a31);
    }
}

/* 4 rows x 1 vector, lanes beyond m masked off: the last columns when they fit in one vector. */
TARGET static void F(tile4n1)(const T *x, Py_ssize_t ldx, const T *w, Py_ssize_t k0, Py_ssize_t k1,
                              Py_ssize_t N, T *z, Py_ssize_t ldz, M m) {
    const T *x0 = x, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    V a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
    if (k0 > 0) {
        a0 = VLOADM(z, m); a1 = VLOADM(z + ldz, m); a2 = VLOADM(z + 2 * ldz, m); a3 = VLOADM(z + 3 * ldz, m);
    }
    for (Py_ssize_t k = k0; k < k1; k++) {
        V w0 = VLOADM(w + k * N, m);
        a0 = VFMA(VSET1(x0[k]), w0, a0);
        a1 = VFMA(VSET1(x1[k]), w0, a1);
        a2 = VFMA(VSET1(x2[k]), w0, a2);
        a3 = VFMA(VSET1(x3[k]), w0, a3);
    }
    VSTOREM(z, m, a0); VSTOREM(z + ldz, m, a1); VSTOREM(z + 2 * ldz, m, a2); VSTOREM(z + 3 * ldz, m, a3);
}

/* 1 row x 8 vectors of columns from j, nj of them real (the rest masked): eight independent chains. */
TARGET static void F(tile1)(const T *x, const T *w, Py_ssize_t K, Py_ssize_t N, T *z, Py_ssize_t nj) {
    M m[8];
    for (int v = 0; v < 8; v++)
        m[v] = VMASK(nj - v * VW <= 0 ? 0 : nj - v * VW >= VW ? VW : nj - v * VW);
    V a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO, a4 = VZERO, a5 = VZERO, a6 = VZERO, a7 = VZERO;
    for (Py_ssize_t k = 0; k < K; k++) {
        const T *wk = w + k * N;
        V b = VSET1(x[k]);
        a0 = VFMA(b, VLOADM(wk, m[0]), a0);
        a1 = VFMA(b, VLOADM(wk + VW, m[1]), a1);
        a2 = VFMA(b, VLOADM(wk + 2 * VW, m[2]), a2);
        a3 = VFMA(b, VLOADM(wk + 3 * VW, m[3]), a3);
        a4 = VFMA(b, VLOADM(wk + 4 * VW, m[4]), a4);
        a5 = VFMA(b, VLOADM(wk + 5 * VW, m[5]), a5);
        a6 = VFMA(b, VLOADM(wk + 6 * VW, m[6]), a6);
        a7 = VFMA(b, VLOADM(wk + 7 * VW, m[7]), a7);
    }
    VSTOREM(z, m[0], a0); VSTOREM(z + VW, m[1], a1); VSTOREM(z + 2 * VW, m[2], a2);
    VSTOREM(z + 3 * VW, m[3], a3); VSTOREM(z + 4 * VW, m[4], a4); VSTOREM(z + 5 * VW, m[5], a5);
    VSTOREM(z + 6 * VW, m[6], a6); VSTOREM(z + 7 * VW, m[7], a7);
}

/* z = x w for `rows` rows: 4-row tiles, then the 0-3 rows left one at a time. The 4-row tiles go through
 * k in blocks of KBLOCK, so a block of w (KBLOCK x N) stays in the L1 cache for all the rows; each sum
 * still runs k = 0, 1, ..., K-1 in order (stored between blocks, exactly), so the bits do not change. */
#ifndef KBLOCK
#define KBLOCK 64
#endif
TARGET static void F(dense)(const T *x, Py_ssize_t ldx, Py_ssize_t rows, const T *w, Py_ssize_t K,
                            Py_ssize_t N, T *z, Py_ssize_t ldz) {
    const Py_ssize_t full = N / (2 * VW) * (2 * VW), rest = N - full, fours = rows / 4 * 4;
    const M m0 = VMASK(rest < VW ? rest : VW), m1 = VMASK(rest < VW ? 0 : rest - VW);
    for (Py_ssize_t k0 = 0; k0 < K; k0 += KBLOCK) {
        const Py_ssize_t k1 = k0 + KBLOCK < K ? k0 + KBLOCK : K;
        for (Py_ssize_t r = 0; r < fours; r += 4) {
            for (Py_ssize_t j = 0; j < full; j += 2 * VW)
                F(tile4)(x + r * ldx, ldx, w + j, k0, k1, N, z + r * ldz + j, ldz, FULL, FULL, 0);
            if (rest && rest <= VW)
                F(tile4n1)(x + r * ldx, ldx, w + full, k0, k1, N, z + r * ldz + full, ldz, m0);
            else if (rest)
                F(tile4)(x + r * ldx, ldx, w + full, k0, k1, N, z + r * ldz + full, ldz, m0, m1, 1);
        }
    }
    for (Py_ssize_t r = fours; r < rows; r++)
        for (Py_ssize_t j = 0; j < N; j += 8 * VW)
            F(tile1)(x + r * ldx, w + j, K, N, z + r * ldz + j, N - j);
}

/* z += b, then the activation in place, row by row (the same for a row whatever its neighbours). */
TARGET static void F(finish)(T *z, Py_ssize_t rows, Py_ssize_t N, const T *b, int act) {
    for (Py_ssize_t r = 0; r < rows; r++) {
        T *zr = z + r * N;
        if (b)
            for (Py_ssize_t j = 0; j < N; j++)
                zr[j] += b[j];
        if (act == ACT_RELU) {
            for (Py_ssize_t j = 0; j < N; j++)
                zr[j] = zr[j] < 0 ? (T)0 : zr[j];  /* NaN stays NaN, as np.maximum */
        } else if (act == ACT_TANH) {
            for (Py_ssize_t j = 0; j < N; j++)
                zr[j] = STANH(zr[j]);
        } else if (act == ACT_SIGMOID) {
            for (Py_ssize_t j = 0; j < N; j++) {
                T e = SEXP(-(zr[j] < 0 ? -zr[j] : zr[j]));
                zr[j] = (zr[j] >= 0 ? (T)1 : e) / ((T)1 + e);
            }
        } else if (act == ACT_SOFTMAX) {
            T m = zr[0], s = 0;
            for (Py_ssize_t j = 1; j < N; j++)
                m = zr[j] > m ? zr[j] : m;
            for (Py_ssize_t j = 0; j < N; j++) {
                zr[j] = SEXP(zr[j] - m);
                s += zr[j];
            }
            for (Py_ssize_t j = 0; j < N; j++)
                zr[j] /= s;
        }
    }
}

TARGET static int F(all_finite)(const T *z, Py_ssize_t n) {
    int bad = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        bad |= !(z[i] - z[i] == 0);  /* z − z is 0 for a finite z, NaN for NaN or ±inf */
    return !bad;
}

/* The whole stack on `rows` rows, BLOCK rows at a time through two scratch buffers; returns 1 when the
 * first layer's z (before the bias) had a non-finite value. */
TARGET static int F(stack)(const T *x, Py_ssize_t rows, T *out, int L, const Py_ssize_t *dims,
                           const T *const *ws, const T *const *bs, const int *acts, T *s0, T *s1) {
    int nonfinite = 0;
    for (Py_ssize_t r0 = 0; r0 < rows; r0 += BLOCK) {
        Py_ssize_t n = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        const T *in = x + r0 * dims[0];
        for (int l = 0; l < L; l++) {
            T *z = l == L - 1 ? out + r0 * dims[L] : (l % 2 ? s1 : s0);
            F(dense)(in, dims[l], n, ws[l], dims[l], dims[l + 1], z, dims[l + 1]);
            if (l == 0 && !nonfinite && !F(all_finite)(z, n * dims[1]))
                nonfinite = 1;
            F(finish)(z, n, dims[l + 1], bs[l], acts[l]);
            in = z;
        }
    }
    return nonfinite;
}

#undef F
#undef FULL
