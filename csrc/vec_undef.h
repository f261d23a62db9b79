/* Ends a set of vector macros (vec_avx2.h, vec_avx512.h) and the kernel name. */
#undef T
#undef VT
#undef VLEN
#undef TSFX
#undef KNAME
#undef VLOAD
#undef VSTORE
#undef VADD
#undef VSUB
#undef VMAX
#undef VZERO
#undef VFMA
#undef VSET1
#undef VKEEP
#undef FCNN_VEC_F64
