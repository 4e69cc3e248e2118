"""UtilisationSeries read directly: the kept dense array is the one every reader returns,
its shape and size, per-row maxima, an empty range of rows, a series without links."""

from __future__ import annotations

import numpy as np

from lgwan_sim.engine._series import UtilisationSeries, row_blocks


def series() -> UtilisationSeries:
    # 3 links, 4 bins; one class of 10, 20 and 40 bytes per message on the links
    s = UtilisationSeries(3, 4)
    weights = np.array([[10.0, 20.0, 40.0]])
    caps = np.array([80.0, 160.0, 320.0])
    s.add([0, 1], np.array([[1.0], [2.0]]), [1.0, 1.0], weights, caps)
    s.add([3], np.array([[4.0]]), [0.5], weights, caps)
    return s


# load x 8 / (capacity x span): bin 0 one message, bin 1 two, bin 2 none, bin 3 four in 0.5 s
EXPECTED = np.array(
    [
        [1.0, 2.0, 0.0, 8.0],
        [1.0, 2.0, 0.0, 8.0],
        [1.0, 2.0, 0.0, 8.0],
    ]
)


def test_the_values_are_load_over_capacity_per_bin():
    s = series()
    np.testing.assert_array_equal(np.asarray(s), EXPECTED)


def test_shape_and_size_are_links_by_bins():
    s = series()
    assert s.shape == (3, 4)
    assert s.size == 12
    assert UtilisationSeries(5, 2).size == 10


def test_an_empty_range_of_rows_has_no_row():
    s = series()
    assert s.rows(2, 2).shape == (0, 4)
    assert s.rows(1, 2).shape == (1, 4)


def test_the_kept_dense_array_is_what_columns_and_row_blocks_return():
    s = series()
    blocks = list(s.row_blocks())
    assert len(blocks) == 1
    dense = s.dense()
    assert np.shares_memory(blocks[0], dense)
    assert np.shares_memory(s.columns(1, 3), dense)
    np.testing.assert_array_equal(s.columns(1, 3), EXPECTED[:, 1:3])


def test_row_maxima_are_per_link_and_column_maxima_per_bin():
    s = UtilisationSeries(2, 3)
    weights = np.array([[10.0, 30.0]])
    caps = np.array([80.0, 80.0])
    s.add([0, 1, 2], np.array([[1.0], [3.0], [2.0]]), [1.0, 1.0, 1.0], weights, caps)
    np.testing.assert_array_equal(s.max(axis=1), [3.0, 9.0])
    np.testing.assert_array_equal(s.max(axis=-1), [3.0, 9.0])
    np.testing.assert_array_equal(s.max(axis=0), [3.0, 9.0, 6.0])
    assert s.max() == 9.0
    np.testing.assert_array_equal(s.argmax(axis=1), [1, 1])


def test_a_series_without_links_has_empty_row_statistics():
    s = UtilisationSeries(0, 5)
    assert s.argmax(axis=1).shape == (0,)
    assert s.argmax(axis=1).dtype == np.int64
    assert s.max(axis=1).shape == (0,)
    assert s.mean(axis=1).shape == (0,)


def test_row_blocks_of_a_series_or_an_array_are_its_rows_in_c_order():
    s = series()
    (block,) = list(row_blocks(s))
    np.testing.assert_array_equal(block, EXPECTED)
    arr = np.asfortranarray(EXPECTED)
    (block,) = list(row_blocks(arr))
    assert block.flags.c_contiguous
    np.testing.assert_array_equal(block, EXPECTED)
