"""Studio form messages: a long prompt is reported whole, an empty one explained on Generate."""

from core.models import GenerationJob, JobStatus
from core.safety import MAX_PROMPT_CHARS
from ui.studio_form import generate_blocker, status_changed, too_long_message


def test_a_prompt_at_the_limit_fits():
    assert too_long_message("x" * MAX_PROMPT_CHARS, "prompt") is None
    assert generate_blocker("x" * MAX_PROMPT_CHARS) is None


def test_a_long_prompt_says_its_length_the_limit_and_that_nothing_was_cut():
    message = too_long_message("x" * (MAX_PROMPT_CHARS + 250), "prompt")
    assert message is not None
    assert f"{MAX_PROMPT_CHARS + 250:,} characters" in message
    assert f"limit is {MAX_PROMPT_CHARS:,}" in message and "by 250" in message
    assert "nothing was cut" in message


def test_an_empty_or_blank_prompt_blocks_generate_with_a_reason():
    assert generate_blocker("   \n") == "Write a prompt first: describe the picture you want."


def test_the_page_reruns_when_the_followed_job_changes_status_only():
    job = GenerationJob(id=7, user_id=1, prompt="p", model="m", preset="low", seed=1)
    state: dict[str, object] = {}
    assert not status_changed(state, job)  # first sight (a reload): nothing to catch up
    assert not status_changed(state, job)
    job.status = JobStatus.RUNNING
    assert status_changed(state, job)
    assert not status_changed(state, job)
    job.status = JobStatus.SUCCEEDED
    assert status_changed(state, job)
    other = GenerationJob(id=8, user_id=1, prompt="p", model="m", preset="low", seed=1)
    assert not status_changed(state, other)  # a new job: the run that submitted it shows it
