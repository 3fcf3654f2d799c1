"""VastClient against the simulator: error mapping, retries, and the traps it must avoid."""

import json
import threading
import time
from decimal import Decimal

import httpx
import pytest

from core.errors import (
    AuthFailed,
    OfferUnavailable,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from core.pool.provider import LaunchSpec, OfferFilter, RemoteState
from core.pool.vast import (
    LISTED_COLUMNS,
    MIN_INTERVAL_S,
    PACE_MARGIN_S,
    Pacer,
    VastClient,
    VastProvider,
    _remote,
    comfy_url,
    map_status,
)
from testing.factories import RENTABLE_FILTERS
from testing.sims import SIM_KEY

LAUNCH = LaunchSpec(image="vastai/comfy:latest", disk_gb=40)
ANY = OfferFilter(**RENTABLE_FILTERS)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(vast, sleeps):
    client = VastClient(base_url=vast.url, api_key=SIM_KEY, sleep=sleeps.append, timeout_s=2)
    yield client
    client.close()


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (None, None, RemoteState.PENDING),
        ("created", None, RemoteState.PENDING),
        ("loading", None, RemoteState.PENDING),
        ("some_future_state", None, RemoteState.PENDING),
        ("running", "success", RemoteState.RUNNING),
        ("exited", None, RemoteState.FAILED),
        ("offline", None, RemoteState.FAILED),
        ("stopped", None, RemoteState.FAILED),
        ("created", "Error: OCI runtime create failed: boom", RemoteState.FAILED),
    ],
)
def test_status_map(status, message, expected):
    assert map_status(status, message) is expected


@pytest.mark.parametrize(
    ("instance", "url"),
    [
        (
            {"public_ipaddr": " 1.2.3.4\n", "ports": {"8188/tcp": [{"HostPort": "4001"}]}},
            "http://1.2.3.4:4001",
        ),
        ({"public_ipaddr": "1.2.3.4", "ports": None}, None),
        ({"public_ipaddr": "1.2.3.4", "ports": [8188]}, None),
        ({"public_ipaddr": "1.2.3.4", "ports": {"8188/tcp": None}}, None),
        ({"public_ipaddr": "", "ports": {"8188/tcp": [{"HostPort": "1"}]}}, None),
    ],
)
def test_comfy_url_is_defensive_about_ports(instance, url):
    assert comfy_url(instance, 8188) == url


def test_wrong_key_is_auth_failed_not_gone(vast):
    with VastClient(base_url=vast.url, api_key="wrong", sleep=lambda _s: None) as bad:
        with pytest.raises(AuthFailed):
            bad.destroy_instance("123")
        with pytest.raises(AuthFailed):
            bad.list_instances()


def test_a_failing_list_raises_and_never_answers_empty(vast, client, sleeps):
    vast.seed("aik-x-1")
    vast.faults(list_outage=True)
    with pytest.raises(ProviderUnavailable):
        client.list_instances()
    assert len(sleeps) == 2  # three attempts in all


def test_rate_limits_are_retried_honouring_retry_after(vast, client, sleeps):
    vast.faults(rate_limit_p=1.0, retry_after_s=7)
    with pytest.raises(RateLimited):
        client.list_instances()
    assert sleeps == [7, 7]


def test_create_is_never_retried_even_when_the_reply_fails(vast, client, sleeps):
    provider = VastProvider(client)
    vast.faults(create_then_fail="502")
    offer = provider.search_offers(ANY)[0]
    with pytest.raises(ProviderUnavailable):
        provider.create(offer, "aik-x-2", LAUNCH)
    assert sleeps == []
    assert [inst["label"] for inst in vast.alive()] == ["aik-x-2"]  # it exists nonetheless
    creates = [call for call in vast.state.calls if call[1] == "create"]
    assert len(creates) == 1


def test_create_timeout_is_unknown_outcome(vast, client):
    vast.faults(create_then_fail="hang", hang_s=4)
    provider = VastProvider(client)
    with pytest.raises(ProviderUnavailable):
        provider.create(provider.search_offers(ANY)[0], "aik-x-3", LAUNCH)
    assert [inst["label"] for inst in vast.alive()] == ["aik-x-3"]


def test_taken_offer_is_offer_unavailable(vast, client):
    provider = VastProvider(client)
    offer = provider.search_offers(ANY)[0]
    provider.create(offer, "aik-x-4", LAUNCH)
    with pytest.raises(OfferUnavailable):
        provider.create(offer, "aik-x-5", LAUNCH)


def test_search_excludes_bad_machines_and_respects_the_cap(vast, client):
    provider = VastProvider(client)
    offers = provider.search_offers(ANY)
    banned = offers[0].machine_id
    again = provider.search_offers(
        OfferFilter(
            max_price_per_hour_usd=Decimal("0.9"),
            min_reliability=0.9,
            min_vram_gb=8,
            excluded_machine_ids=(banned,),
        )
    )
    assert again, "offers under the cap on other machines must remain"  # else all() is vacuous
    assert all(o.machine_id != banned and o.price_per_hour_usd <= Decimal("0.9") for o in again)


def test_show_and_user(vast, client):
    instance_id = vast.seed("aik-x-6")
    assert client.show_instance(str(instance_id))["label"] == "aik-x-6"
    client.destroy_instance(str(instance_id))
    assert client.show_instance(str(instance_id)) is None
    assert client.current_user()["credit"] > 0


def test_success_false_with_200_is_an_error(client, monkeypatch):

    def handler(request):
        return httpx.Response(200, json={"success": False, "msg": "invalid_price"})

    odd = VastClient(
        base_url="http://vast.test", api_key="k", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(ProviderError, match="invalid_price"):
        odd.create_instance("1", {})


def test_charges_bill_per_second_at_dph_total(vast, client):
    from datetime import UTC, datetime, timedelta

    instance_id = vast.seed("aik-x-7")
    vast.advance(3600)
    now = datetime.now(UTC) + timedelta(hours=2)
    (charge,) = client.charges(now - timedelta(days=1), now)
    dph = next(i["dph_total"] for i in vast.dump()["instances"] if i["id"] == instance_id)
    assert charge["source"] == f"instance-{instance_id}"
    assert charge["amount"] == pytest.approx(dph * 2, rel=0.01)  # seeded 1 h ago, +1 h advance


def test_offer_taken_between_search_and_create_moves_on_to_the_next(vast, client):
    provider = VastProvider(client)
    offers = provider.search_offers(ANY)
    vast.faults(offer_vanish_p=1.0)
    with pytest.raises(OfferUnavailable):
        provider.create(offers[0], "aik-x-8", LAUNCH)
    vast.faults(offer_vanish_p=0.0)
    assert provider.create(offers[1], "aik-x-8", LAUNCH)


def test_latency_is_felt_but_calls_succeed(vast, client):
    import time

    vast.faults(latency_s=0.3)
    started = time.monotonic()
    assert client.list_instances() == []
    assert time.monotonic() - started >= 0.3


def test_daily_search_quota_429_is_not_retried(vast, client, sleeps):
    vast.faults(search_quota_exceeded=True)
    with pytest.raises(RateLimited, match="quota"):
        VastProvider(client).search_offers(ANY)
    assert sleeps == []
    assert [c for c in vast.state.calls if c[1] == "search"] == [("POST", "search", 429)]


def test_a_5xx_storm_is_retried_with_capped_backoff(vast, sleeps):
    vast.faults(server_error_p=1.0)
    with VastClient(
        base_url=vast.url,
        api_key=SIM_KEY,
        sleep=sleeps.append,
        attempts=6,
        backoff_s=1.0,
        max_backoff_s=2.0,
    ) as storm:
        with pytest.raises(ProviderUnavailable) as info:
            storm.list_instances()
    assert len(sleeps) == 5 and all(0.5 <= s <= 2.0 for s in sleeps)
    assert info.value.status == 502 and info.value.body == "Bad Gateway"


def test_offer_and_instance_prices_include_storage_for_the_disk(vast, client):
    provider = VastProvider(client)
    offer = provider.search_offers(OfferFilter(**{**vars(ANY), "min_disk_gb": 200}))[0]
    raw = vast.state.offers[int(offer.id)]
    storage_per_hour = raw["storage_cost"] * 200 / 720
    assert offer.price_per_hour_usd == pytest.approx(
        Decimal(str(raw["dph_base"] + storage_per_hour)), abs=Decimal("0.000001")
    )
    provider.create(offer, "aik-x-9", LaunchSpec(image="vastai/comfy:latest", disk_gb=200))
    (listed,) = provider.list_instances("aik-x-9")
    assert listed.price_per_hour_usd == offer.price_per_hour_usd


def test_charges_bill_storage_always_and_the_gpu_only_while_running(vast, client):
    from datetime import UTC, datetime, timedelta

    vast.state.timings.loading_s = 6000
    provider = VastProvider(client)
    big_disk = LaunchSpec(image="vastai/comfy:latest", disk_gb=720)  # storage $/h = $/GB-month
    instance_id = provider.create(provider.search_offers(ANY)[0], "aik-x-10", big_disk)
    raw = next(i for i in vast.state.instances.values() if str(i.id) == instance_id)
    vast.advance(3000)  # still loading
    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=13)
    (loading,) = client.charges(start, end)
    gpu, disk = loading["items"]
    assert (gpu["type"], gpu["amount"]) == ("gpu", 0) and disk["type"] == "disk"
    storage_rate = raw.offer["storage_total_cost"]
    assert disk["amount"] == pytest.approx(storage_rate * 3000 / 3600, abs=0.001)
    assert disk["description"].startswith("0.83")  # "0.833 hours at $.../hour"
    vast.advance(36000)  # booted at 6000 s, so running for 33000 s of the 39000 s it exists
    (running,) = client.charges(start, end)
    gpu, disk = running["items"]
    assert gpu["amount"] == pytest.approx(raw.offer["dph_base"] * 33000 / 3600, abs=0.001)
    assert disk["amount"] == pytest.approx(storage_rate * 39000 / 3600, abs=0.001)
    assert running["amount"] == pytest.approx(gpu["amount"] + disk["amount"], abs=0.001)
    assert (running["source"], running["metadata"]) == (
        f"instance-{instance_id}",
        {"label": "aik-x-10"},
    )
    assert isinstance(running["start"], int) and isinstance(running["end"], int)


def test_charges_are_read_across_pages_and_billed_per_instance(vast, client):
    from datetime import UTC, datetime, timedelta

    seeded = {str(vast.seed(f"aik-x-p{n}")) for n in range(105)}
    now = datetime.now(UTC)
    rows = client.charges(now - timedelta(days=1), now + timedelta(hours=1))
    assert len(rows) == 105
    assert [c for c in vast.state.calls if c[1] == "charges"] == [("GET", "charges", 200)] * 2
    billed = VastProvider(client).billed(now - timedelta(days=1), now + timedelta(hours=1))
    assert {b.provider_id for b in billed} == seeded
    assert all(b.amount_usd > 0 and b.label.startswith("aik-x-p") for b in billed)


def test_the_charges_endpoint_refuses_a_missing_day_range_and_a_bad_token(vast):
    headers = {"Authorization": f"Bearer {SIM_KEY}"}
    missing = httpx.get(f"{vast.url}/api/v0/charges/", headers=headers)
    assert missing.status_code == 400 and "'day' gte and lte" in missing.json()["msg"]
    bad = httpx.get(
        f"{vast.url}/api/v0/charges/",
        headers=headers,
        params={"select_filters": '{"day": {"gte": 0, "lte": 1}}', "after_token": "x!"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_token"


def test_stuck_loading_stays_pending_and_a_vanished_instance_is_not_listed(vast, client):
    provider = VastProvider(client)
    vast.faults(stuck_loading=True)
    stuck = provider.create(provider.search_offers(ANY)[0], "aik-x-11", LAUNCH)
    vast.faults(stuck_loading=False)
    gone = provider.create(provider.search_offers(ANY)[0], "aik-x-12", LAUNCH)
    vast.advance(7200)
    states = {r.id: (r.state, r.comfy_url) for r in provider.list_instances("aik-x-")}
    assert states[stuck] == (RemoteState.PENDING, None)
    assert states[gone][0] is RemoteState.RUNNING and states[gone][1]
    vast.operate(gone, "vanish")
    assert [r.id for r in provider.list_instances("aik-x-")] == [stuck]
    assert client.show_instance(gone) is None


def test_remote_instance_carries_every_protocol_field(vast, client):
    provider = VastProvider(client)
    offer = provider.search_offers(ANY)[0]
    provider_id = provider.create(offer, "aik-x-13", LAUNCH)
    (remote,) = provider.list_instances("aik-x-13")
    assert (remote.id, remote.label, remote.machine_id) == (
        provider_id,
        "aik-x-13",
        offer.machine_id,
    )
    assert (remote.gpu_name, remote.num_gpus) == (offer.gpu_name, 1)
    assert remote.comfy_url == f"http://127.0.0.1:{vast.state.comfy_port}"
    assert remote.started_at is not None and remote.status_message.startswith("success")


def test_a_start_whose_gpu_was_taken_is_reported_stopped_until_someone_gives_up(vast, client):
    vast.state.timings.gpu_taken_half_life_s = 60
    provider = VastProvider(client)
    provider_id = provider.create(provider.search_offers(ANY)[0], "aik-x-14", LAUNCH)
    provider.stop(provider_id)
    vast.advance(24 * 3600)
    provider.start(provider_id)
    vast.advance(3600)
    (remote,) = provider.list_instances("aik-x-14")
    assert (remote.state, remote.stopped, remote.comfy_url) == (RemoteState.FAILED, True, None)
    shown = client.show_instance(provider_id)
    assert (shown["intended_status"], shown["actual_status"]) == ("running", "stopped")
    provider.destroy(provider_id)
    assert provider.list_instances("aik-x-14") == []


def test_a_rate_limited_state_change_is_retried(vast, client, sleeps):
    provider = VastProvider(client)
    provider_id = provider.create(provider.search_offers(ANY)[0], "aik-x-15", LAUNCH)
    vast.faults(rate_limit_p=1.0, retry_after_s=1)
    with pytest.raises(RateLimited):
        provider.stop(provider_id)
    assert [c[2] for c in vast.state.calls if c[1] == "manage"] == [429, 429, 429]
    assert sleeps == [1.0, 1.0]


def test_the_provider_lists_only_the_columns_it_reads_and_misses_none(vast, client):
    """Every page asks Vast for `LISTED_COLUMNS` only (a full row carries the onstart script
    and the environment), and what comes back is the same instance a full row gives."""
    vast.seed("aik-x-20")
    asked: list[list[str] | None] = []
    with httpx.Client(base_url=vast.url) as forward:

        def spy(request: httpx.Request) -> httpx.Response:
            columns = request.url.params.get("select_cols")
            asked.append(json.loads(columns) if columns is not None else None)
            reply = forward.send(request)
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

        with VastClient(
            base_url=vast.url, api_key=SIM_KEY, transport=httpx.MockTransport(spy)
        ) as narrow:
            (listed,) = VastProvider(narrow).list_instances("aik-x-20")
    assert asked == [list(LISTED_COLUMNS)]
    (full,) = [raw for raw in client.list_instances() if raw["label"] == "aik-x-20"]
    assert listed == _remote(full, 8188)
    assert listed.comfy_url and listed.state is RemoteState.RUNNING


def test_a_paced_client_lists_many_pages_and_rents_twice_without_a_429(vast):
    """Against Vast's minimum intervals, a client pacing itself (sleeping on the sim clock)
    earns no 429, and waits about one list interval per page after the first."""
    vast.faults(min_intervals=True)
    for n in range(60):
        vast.seed(f"aik-paced-{n}")
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        vast.advance(seconds)

    with VastClient(
        base_url=vast.url, api_key=SIM_KEY, sleep=sleep, pacing=MIN_INTERVAL_S,
        clock=vast.state.now,
    ) as paced:  # fmt: skip
        provider = VastProvider(paced)
        assert len(paced.list_instances()) == 60
        offers = provider.search_offers(ANY)
        provider.create(offers[0], "aik-paced-a", LAUNCH)
        provider.create(offers[1], "aik-paced-b", LAUNCH)
    assert [status for _m, _e, status in vast.state.calls if status == 429] == []
    assert sum(endpoint == "list" for _m, endpoint, _s in vast.state.calls) == 3
    assert len(waited) == 3 and min(waited) >= MIN_INTERVAL_S["list"]


def test_an_unpaced_client_retrying_fast_is_refused_by_vasts_intervals(vast):
    """The client's own retries without waiting (sleep is a no-op) cannot get a second page
    past a 1 s interval: the list fails instead of answering a partial one."""
    vast.faults(min_intervals=True)
    for n in range(30):
        vast.seed(f"aik-fast-{n}")
    with VastClient(base_url=vast.url, api_key=SIM_KEY, sleep=lambda _s: None) as fast:
        with pytest.raises(RateLimited):
            fast.list_instances()


def test_the_pacer_spaces_each_endpoint_from_the_end_of_its_last_call_and_leaves_others_alone():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def call(endpoint: str, lasting_s: float = 0.0) -> None:
        with pacer.slot(endpoint):
            now[0] += lasting_s  # the call's round trip

    pacer = Pacer({"list": 1.0, "create": 4.5}, clock=lambda: now[0], sleep=sleep)
    call("list", lasting_s=0.3)  # a slow reply: the next list counts from its end
    call("create")
    call("user")  # no interval: never waits
    call("list")
    call("create")
    assert slept == [
        pytest.approx(1.0 + PACE_MARGIN_S),
        pytest.approx(4.5 + PACE_MARGIN_S - 1.0 - PACE_MARGIN_S),
    ]


def test_the_pacer_lets_one_call_of_an_endpoint_through_at_a_time():
    pacer = Pacer({"list": 0.01})
    inside, most = [0], [0]
    guard = threading.Lock()

    def call() -> None:
        with pacer.slot("list"):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.005)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
