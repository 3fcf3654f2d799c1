"""Bench L measures what it says: submits succeeded during a real flood, both paths timed."""

from bench import sign_in
from bench.__main__ import SECTIONS


def test_sign_in_section_times_submits_during_a_running_flood_and_both_sign_in_paths():
    result = sign_in.sign_in_under_attack(submits=2, timing_samples=2)
    assert len(result.quiet_ms) == len(result.flood_ms) == 2
    assert result.flood_attempts >= sign_in.FLOOD_THREADS  # the flood was really running
    assert len(result.known_ms) == len(result.unknown_ms) == 2
    assert all(sample > 0 for sample in result.flood_ms + result.known_ms + result.unknown_ms)
    assert [figure.id for figure in result.figures()] == ["L1", "L2"]
    assert "L" in {section.id for section in SECTIONS}
