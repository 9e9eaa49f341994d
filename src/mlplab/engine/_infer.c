/* Optional compiled forward pass for predict: a stack of Dense layers (linear, relu, tanh, sigmoid or
 * softmax) in one call, for every batch size.
 *
 * Why: NumPy's matmul sends 1 row to gemv and small batches to OpenBLAS's small-matrix kernels, which
 * sum in other orders than its large-batch gemm, so a row's prediction depended on its batch. Here
 * every z[r, j] is Σ_k x[r, k] w[k, j] summed k = 0, 1, ..., K-1 with one fused multiply-add each,
 * whichever code path (register tile or edge loop) and batch size: a row gives the same bits alone or
 * among a thousand. The AVX2+FMA and AVX-512 versions do the same operations, so they agree bit for bit;
 * on a CPU with neither, available() is False and mlplab uses its NumPy path (mlplab/engine/inference.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>

#define ACT_LINEAR 0
#define ACT_RELU 1
#define ACT_TANH 2
#define ACT_SIGMOID 3
#define ACT_SOFTMAX 4
#define BLOCK 64      /* rows per pass through the stack: the intermediate arrays stay in the L1/L2 cache */
#define MAX_LAYERS 64

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1

#define T float
#define SUF _f_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define V __m256
#define VW 8
#define VZERO _mm256_setzero_ps()
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSET1 _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define SEXP expf
#define STANH tanhf
#define VLOADM(p, m) _mm256_maskload_ps((p), (m))
#define VSTOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define M __m256i
#define VMASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#include "_infer_body.h"
#undef VLOADM
#undef VSTOREM
#undef M
#undef VMASK
#undef SUF
#undef TARGET
#undef V
#undef VW
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA

#define SUF _f_avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define V __m512
#define VW 16
#define VZERO _mm512_setzero_ps()
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VLOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VSTOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define M __mmask16
#define VMASK(n) ((__mmask16)((1u << (n)) - 1u))
#include "_infer_body.h"
#undef VLOADM
#undef VSTOREM
#undef M
#undef VMASK
#undef T
#undef SUF
#undef TARGET
#undef V
#undef VW
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef SEXP
#undef STANH

#define T double
#define SUF _d_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define V __m256d
#define VW 4
#define VZERO _mm256_setzero_pd()
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VSET1 _mm256_set1_pd
#define VFMA _mm256_fmadd_pd
#define SEXP exp
#define STANH tanh
#define VLOADM(p, m) _mm256_maskload_pd((p), (m))
#define VSTOREM(p, m, v) _mm256_maskstore_pd((p), (m), (v))
#define M __m256i
#define VMASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n)), _mm256_setr_epi64x(0, 1, 2, 3))
#include "_infer_body.h"
#undef VLOADM
#undef VSTOREM
#undef M
#undef VMASK
#undef SUF
#undef TARGET
#undef V
#undef VW
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA

#define SUF _d_avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define V __m512d
#define VW 8
#define VZERO _mm512_setzero_pd()
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VLOADM(p, m) _mm512_maskz_loadu_pd((m), (p))
#define VSTOREM(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define M __mmask8
#define VMASK(n) ((__mmask8)((1u << (n)) - 1u))
#include "_infer_body.h"
#endif

static int level = 0;  /* 2: AVX-512, 1: AVX2 + FMA, 0: none (the NumPy path runs) */

/* forward(x, out, weights, biases, acts) -> bool: out = the stack applied to x (2-D, C-contiguous, one
 * float type throughout; biases entries may be None). Returns True when the first layer's x·W had a
 * non-finite value, so the caller can check x for NaN/inf once. The GIL is released while it runs. */
static PyObject *forward(PyObject *self, PyObject *args) {
    PyObject *xo, *oo, *wt, *bt, *at;
    if (!PyArg_ParseTuple(args, "OOO!O!O!", &xo, &oo, &PyTuple_Type, &wt, &PyTuple_Type, &bt, &PyTuple_Type, &at))
        return NULL;
    if (level == 0) {
        PyErr_SetString(PyExc_RuntimeError, "forward: this CPU has neither AVX2+FMA nor AVX-512");
        return NULL;
    }
    int L = (int)PyTuple_GET_SIZE(wt), nb = 0, ok = 1, result = 0;
    if (L < 1 || L > MAX_LAYERS || PyTuple_GET_SIZE(bt) != L || PyTuple_GET_SIZE(at) != L) {
        PyErr_SetString(PyExc_ValueError, "forward: expected 1 to 64 layers, with one bias and activation each");
        return NULL;
    }
    Py_buffer bufs[2 * MAX_LAYERS + 2];
    const void *ws[MAX_LAYERS], *bs[MAX_LAYERS];
    int acts[MAX_LAYERS];
    Py_ssize_t dims[MAX_LAYERS + 1], itemsize = 0, rows = 0, maxn = 0;
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND;
    if (PyObject_GetBuffer(xo, &bufs[nb], flags) < 0)
        return NULL;
    Py_buffer *xb = &bufs[nb++];
    if (PyObject_GetBuffer(oo, &bufs[nb], flags | PyBUF_WRITABLE) < 0)
        goto fail;
    Py_buffer *ob = &bufs[nb++];
    itemsize = xb->itemsize;
    ok = xb->ndim == 2 && ob->ndim == 2 && (itemsize == 4 || itemsize == 8) && ob->itemsize == itemsize;
    if (ok) {
        rows = xb->shape[0];
        dims[0] = xb->shape[1];
        ok = ob->shape[0] == rows;
    }
    for (int l = 0; ok && l < L; l++) {
        long a = PyLong_AsLong(PyTuple_GET_ITEM(at, l));
        if (a == -1 && PyErr_Occurred())
            goto fail;
        acts[l] = (int)a;
        ok = a >= ACT_LINEAR && a <= ACT_SOFTMAX;
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(wt, l), &bufs[nb], flags) < 0)
            goto fail;
        Py_buffer *w = &bufs[nb++];
        ok = ok && w->ndim == 2 && w->itemsize == itemsize && w->shape[0] == dims[l];
        if (!ok)
            break;
        ws[l] = w->buf;
        dims[l + 1] = w->shape[1];
        maxn = dims[l + 1] > maxn ? dims[l + 1] : maxn;
        bs[l] = NULL;
        PyObject *bo = PyTuple_GET_ITEM(bt, l);
        if (bo != Py_None) {
            if (PyObject_GetBuffer(bo, &bufs[nb], flags) < 0)
                goto fail;
            Py_buffer *b = &bufs[nb++];
            ok = b->ndim == 1 && b->itemsize == itemsize && b->shape[0] == dims[l + 1];
            bs[l] = b->buf;
        }
    }
    ok = ok && ob->shape[1] == dims[L] && dims[0] > 0;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "forward: the arrays do not form one stack of one float type");
        goto fail;
    }
    void *scratch = malloc((size_t)(2 * BLOCK * maxn) * (size_t)itemsize);
    if (!scratch) {
        PyErr_NoMemory();
        goto fail;
    }
#ifdef HAVE_X86
    Py_BEGIN_ALLOW_THREADS
    if (itemsize == 4) {
        float *s = scratch;
        result = (level == 2 ? stack_f_avx512 : stack_f_avx2)(xb->buf, rows, ob->buf, L, dims,
            (const float *const *)ws, (const float *const *)bs, acts, s, s + BLOCK * maxn);
    } else {
        double *s = scratch;
        result = (level == 2 ? stack_d_avx512 : stack_d_avx2)(xb->buf, rows, ob->buf, L, dims,
            (const double *const *)ws, (const double *const *)bs, acts, s, s + BLOCK * maxn);
    }
    Py_END_ALLOW_THREADS
#endif
    free(scratch);
    for (int i = 0; i < nb; i++)
        PyBuffer_Release(&bufs[i]);
    return PyBool_FromLong(result);
fail:
    for (int i = 0; i < nb; i++)
        PyBuffer_Release(&bufs[i]);
    return NULL;
}

static PyObject *isa(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(level == 2 ? "avx512" : level == 1 ? "avx2" : "");
}

static PyMethodDef methods[] = {
    {"forward", forward, METH_VARARGS, "forward(x, out, weights, biases, acts) -> first layer had non-finite z"},
    {"isa", isa, METH_NOARGS, "The instruction set in use: 'avx512', 'avx2' or '' (none: not usable)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_infer", "Compiled forward pass for mlplab's predict.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__infer(void) {
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        level = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = 1;
#endif
    if (getenv("MLPLAB_INFER_ISA") && getenv("MLPLAB_INFER_ISA")[0] == '1' && level == 2)
        level = 1;  /* MLPLAB_INFER_ISA=1: use the AVX2 version (tests compare the two) */
    return PyModule_Create(&module);
}
