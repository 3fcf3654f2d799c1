"""One suite, every Provider: the promises the pool manager relies on."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import InstanceNotFound, OfferUnavailable
from core.pool.provider import LaunchSpec, OfferFilter, Provider, RemoteState
from core.pool.static import StaticProvider
from core.pool.vast import VastClient, VastProvider
from sim.vast import Timings
from testing.factories import RENTABLE_FILTERS
from testing.sims import SIM_KEY, vast_sim

LAUNCH = LaunchSpec(image="vastai/comfy:latest", disk_gb=40, env={"-p 8188:8188": "1"})
CHEAP = OfferFilter(**RENTABLE_FILTERS)


@dataclass
class Subject:
    provider: Provider
    destroyed_everywhere: object  # callable(provider_id) -> bool
    bills: bool  # whether the provider charges for what it runs


@pytest.fixture(params=["vast", "static"])
def subject(request, tmp_path) -> Iterator[Subject]:
    if request.param == "vast":
        # Restarts take no sim time and always find their GPU free: the contract is the shape.
        instant = Timings(0, 0, 0, restart_s=0, gpu_taken_half_life_s=1e12)
        with vast_sim(timings=instant) as sim:
            client = VastClient(base_url=sim.url, api_key=SIM_KEY, sleep=lambda _s: None)

            def gone(provider_id: str) -> bool:
                return all(str(inst["id"]) != provider_id for inst in sim.alive())

            yield Subject(VastProvider(client), gone, bills=True)
            client.close()
    else:
        urls = ["http://10.0.0.5:8188", "http://10.0.0.6:8188"]
        provider = StaticProvider(urls, state_file=tmp_path / "slots.json")
        yield Subject(
            provider,
            lambda pid: pid not in {r.id for r in provider.list_instances("")},
            bills=False,
        )


def test_created_instance_is_listed_under_its_label(subject):
    offers = subject.provider.search_offers(CHEAP)
    assert offers
    assert [o.price_per_hour_usd for o in offers] == sorted(o.price_per_hour_usd for o in offers)
    provider_id = subject.provider.create(offers[0], "aik-c-1", LAUNCH)
    listed = subject.provider.list_instances("aik-c-")
    assert [(r.id, r.label) for r in listed] == [(provider_id, "aik-c-1")]
    assert listed[0].state is RemoteState.RUNNING and listed[0].comfy_url.startswith("http://")


def test_other_prefixes_are_not_listed(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    subject.provider.create(offer, "other-pool-1", LAUNCH)
    assert subject.provider.list_instances("aik-c-") == []


def test_an_offer_can_be_taken_once(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    subject.provider.create(offer, "aik-c-2", LAUNCH)
    with pytest.raises(OfferUnavailable):
        subject.provider.create(offer, "aik-c-3", LAUNCH)


def test_destroy_is_idempotent(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    provider_id = subject.provider.create(offer, "aik-c-4", LAUNCH)
    subject.provider.destroy(provider_id)
    subject.provider.destroy(provider_id)
    assert subject.destroyed_everywhere(provider_id)
    assert subject.provider.list_instances("aik-c-") == []


def test_a_stopped_instance_is_listed_stopped_and_a_start_brings_it_back(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    provider_id = subject.provider.create(offer, "aik-c-5", LAUNCH)
    subject.provider.stop(provider_id)
    subject.provider.stop(provider_id)  # idempotent
    [stopped] = subject.provider.list_instances("aik-c-")
    assert (stopped.id, stopped.stopped, stopped.state) == (provider_id, True, RemoteState.FAILED)
    assert stopped.comfy_url is None
    subject.provider.start(provider_id)
    subject.provider.start(provider_id)  # a no-op on a running instance
    [running] = subject.provider.list_instances("aik-c-")
    assert (running.stopped, running.state) == (False, RemoteState.RUNNING)
    assert running.comfy_url.startswith("http://")


def test_a_stopped_instance_can_be_destroyed_and_a_gone_one_cannot_be_stopped(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    provider_id = subject.provider.create(offer, "aik-c-6", LAUNCH)
    subject.provider.stop(provider_id)
    subject.provider.destroy(provider_id)
    assert subject.destroyed_everywhere(provider_id)
    with pytest.raises(InstanceNotFound):
        subject.provider.stop(provider_id)
    with pytest.raises(InstanceNotFound):
        subject.provider.start(provider_id)


def test_the_bill_names_what_was_charged_and_nothing_else(subject):
    offer = subject.provider.search_offers(CHEAP)[0]
    provider_id = subject.provider.create(offer, "aik-c-7", LAUNCH)
    now = datetime.now(UTC)
    billed = subject.provider.billed(now - timedelta(days=1), now + timedelta(hours=1))
    expected = {provider_id} if subject.bills else set()
    assert {charge.provider_id for charge in billed} == expected
    assert all(charge.amount_usd >= 0 and charge.label == "aik-c-7" for charge in billed)
