"""Hypothesis strategies shared by the property tests and the differential fuzzing of
fastcnn.ops: window geometries (shapes, kernel or pool sizes, strides, padding, batch sizes)
and channel counts around the SIMD tile widths."""
from hypothesis import strategies as st

# Counts below, at and above the likely SIMD tile widths, mixed with small ones.
CHANNEL_COUNTS = st.one_of(st.integers(1, 9), st.sampled_from([15, 16, 17, 31, 32, 33, 63, 64, 65]))
PADDINGS = st.sampled_from(["valid", "same", "VALID", "Same", "SAME", "Valid"])
# Mostly small strides, sometimes strides larger than any input drawn here.
STRIDES = st.one_of(st.integers(1, 4), st.sampled_from([9, 50]))


@st.composite
def window_geometry(draw):
    """(n, h, w, kh, kw, strides, padding) where the window fits when padding is valid."""
    padding = draw(PADDINGS)
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if draw(st.booleans()):
        strides = draw(STRIDES)
    else:
        strides = (draw(STRIDES), draw(STRIDES))
    low_h, low_w = (kh, kw) if padding.lower() == "valid" else (1, 1)
    h, w = draw(st.integers(low_h, low_h + 10)), draw(st.integers(low_w, low_w + 10))
    n = draw(st.sampled_from([1, 2, 3, 4, 1, 2, 3, 0]))    # empty batches 1 time in 8
    return n, h, w, kh, kw, strides, padding


@st.composite
def pool_geometry(draw):
    """(n, h, w, c, pool_size, strides, padding) for the pooling functions: pool_size an int
    or a pair, strides None (the default: pool_size) half of the time."""
    n, h, w, ph, pw, strides, padding = draw(window_geometry())
    pool_size = ph if ph == pw and draw(st.booleans()) else (ph, pw)
    if draw(st.booleans()):
        strides = None
    return n, h, w, draw(CHANNEL_COUNTS), pool_size, strides, padding
