/* Optional compiled kernels for mlplab: the Adam update in one pass over the parameters.
 *
 * Adam.update in mlplab/core/optimizers.py (the textbook rule) is the reference. This loop computes it
 * with the bias corrections folded into two scalars (mlplab/engine/buffers.py, fused_adam), equal to it
 * up to rounding (tested); built with -ffp-contract=off, so every machine gives the same weights.
 * pip builds it (pyproject.toml, ext-modules) when a C compiler is present; mlplab runs without it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

/* One loop, written once for each float type: m = m*b1 + g*c1; v = v*b2 + g*g*c2; p -= step * m/(sqrt(v)+eps). */
#define DEFINE_ADAM(NAME, T, SQRT)                                                                      \
    MULTIVERSION static void NAME(T *restrict p, const T *restrict g, T *restrict m, T *restrict v,    \
                                  Py_ssize_t n, T b1, T c1, T b2, T c2, T eps, T step) {               \
        for (Py_ssize_t i = 0; i < n; i++) {                                                            \
            T gi = g[i];                                                                                \
            T mi = m[i] * b1 + gi * c1;                                                                 \
            T vi = v[i] * b2 + gi * gi * c2;                                                            \
            m[i] = mi;                                                                                  \
            v[i] = vi;                                                                                  \
            p[i] -= step * (mi / (SQRT(vi) + eps));                                                     \
        }                                                                                               \
    }

DEFINE_ADAM(adam_float, float, sqrtf)
DEFINE_ADAM(adam_double, double, sqrt)

/* adam(p, g, m, v, b1, c1, b2, c2, eps, step): p, m, v updated in place; all four contiguous arrays
 * of one float type and one length (the caller checks; checked again here). Scalars are rounded to
 * the arrays' type first, as NumPy does with Python floats. */
static PyObject *adam(PyObject *self, PyObject *args) {
    Py_buffer b[4];
    double s[6];
    if (!PyArg_ParseTuple(args, "w*y*w*w*dddddd", &b[0], &b[1], &b[2], &b[3], &s[0], &s[1], &s[2],
                          &s[3], &s[4], &s[5]))
        return NULL;
    Py_ssize_t itemsize = b[0].itemsize, n = b[0].len / itemsize;
    int ok = itemsize == 4 || itemsize == 8;
    for (int k = 1; k < 4; k++)
        ok = ok && b[k].len == b[0].len && b[k].itemsize == itemsize;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        if (itemsize == 4)
            adam_float(b[0].buf, b[1].buf, b[2].buf, b[3].buf, n, (float)s[0], (float)s[1],
                       (float)s[2], (float)s[3], (float)s[4], (float)s[5]);
        else
            adam_double(b[0].buf, b[1].buf, b[2].buf, b[3].buf, n, s[0], s[1], s[2], s[3], s[4], s[5]);
        Py_END_ALLOW_THREADS
    }
    for (int k = 0; k < 4; k++)
        PyBuffer_Release(&b[k]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "adam: expected four float32 or four float64 arrays of one length");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"adam", adam, METH_VARARGS, "One Adam step in place: adam(p, g, m, v, b1, 1-b1, b2, 1-b2, eps, step)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "Compiled kernels for mlplab.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
