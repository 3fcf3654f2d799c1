"""One suite, every Provider: the promises the pool manager relies on."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.errors import OfferUnavailable
from core.pool.provider import LaunchSpec, OfferFilter, Provider, RemoteState
from core.pool.static import StaticProvider
from core.pool.vast import VastClient, VastProvider
from testing.factories import RENTABLE_FILTERS
from testing.sims import SIM_KEY, vast_sim

LAUNCH = LaunchSpec(image="vastai/comfy:latest", disk_gb=40, env={"-p 8188:8188": "1"})
CHEAP = OfferFilter(**RENTABLE_FILTERS)


@dataclass
class Subject:
    provider: Provider
    destroyed_everywhere: object  # callable(provider_id) -> bool


@pytest.fixture(params=["vast", "static"])
def subject(request, tmp_path) -> Iterator[Subject]:
    if request.param == "vast":
        with vast_sim() as sim:
            client = VastClient(base_url=sim.url, api_key=SIM_KEY, sleep=lambda _s: None)

            def gone(provider_id: str) -> bool:
                return all(str(inst["id"]) != provider_id for inst in sim.alive())

            yield Subject(VastProvider(client), gone)
            client.close()
    else:
        urls = ["http://10.0.0.5:8188", "http://10.0.0.6:8188"]
        provider = StaticProvider(urls, state_file=tmp_path / "slots.json")
        yield Subject(provider, lambda pid: pid not in {r.id for r in provider.list_instances("")})


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
