"""The objective's rules where the plain cases say too little: the message for a bad mode given
to ``to_direction`` names it as ``mode``."""
import pytest

from sweeps._errors import SweepsValueError
from sweeps._objective import check_mode, to_direction


def test_a_bad_mode_is_named_mode_unless_the_caller_names_it_otherwise():
    with pytest.raises(SweepsValueError) as caught:
        to_direction("up")
    assert str(caught.value).startswith("mode='up' is not valid: expected one of ['max', 'min']")
    with pytest.raises(SweepsValueError) as caught:
        check_mode("sideways")
    assert str(caught.value).startswith("mode='sideways' is not valid")
