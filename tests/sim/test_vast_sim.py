"""The Vast simulator speaks Vast's dialect: checked over HTTP and with the official vastai CLI."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sim.fleet import ComfyFleet
from testing.sims import SIM_KEY, vast_sim


@pytest.fixture
def http(vast):
    with httpx.Client(
        base_url=vast.url, headers={"Authorization": f"Bearer {SIM_KEY}"}, timeout=10
    ) as client:
        yield client


def _rent(http, label):
    offer = http.post("/api/v0/bundles/", json={"order": [["dph_total", "asc"]]}).json()["offers"][
        0
    ]
    reply = http.put(f"/api/v0/asks/{offer['id']}/", json={"image": "vastai/comfy", "label": label})
    return offer, reply


def test_wrong_key_is_a_404_auth_error_and_query_param_key_works(vast):
    wrong = httpx.get(f"{vast.url}/api/v1/instances/", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    assert wrong.json() == {"success": False, "error": "auth_error", "msg": "Invalid user key"}
    right = httpx.get(f"{vast.url}/api/v0/users/current/", params={"api_key": SIM_KEY})
    assert right.status_code == 200 and right.json()["credit"] > 0


def test_search_applies_filters_and_order(http):
    offers = http.post(
        "/api/v0/bundles/",
        json={
            "dph_total": {"lte": 1.0},
            "direct_port_count": {"gte": 1},
            "order": [["dph_total", "asc"]],
        },
    ).json()["offers"]
    prices = [offer["dph_total"] for offer in offers]
    assert prices == sorted(prices) and all(price <= 1.0 for price in prices)
    assert all(offer["direct_port_count"] >= 1 and offer["verified"] for offer in offers)


def test_create_is_single_use_and_the_instance_boots_with_vast_quirks(http):
    offer, reply = _rent(http, "aik-t-1")
    assert reply.json()["success"] is True
    instance_id = reply.json()["new_contract"]
    again = http.put(f"/api/v0/asks/{offer['id']}/", json={"image": "vastai/comfy"})
    assert again.status_code == 410 and again.json()["error"] == "no_such_ask"
    shown = http.get(f"/api/v0/instances/{instance_id}/", params={"owner": "me"}).json()[
        "instances"
    ]
    assert shown["actual_status"] == "running"
    assert shown["public_ipaddr"].endswith("\n")
    assert isinstance(shown["ports"]["8188/tcp"][0]["HostPort"], str)
    assert shown["label"] == "aik-t-1"


def test_list_pages_by_25_with_next_token_and_filters_by_label(http, vast):
    for n in range(27):
        vast.seed(f"aik-p-{n}")
    first = http.get("/api/v1/instances/", params={"limit": 100}).json()
    assert len(first["instances"]) == 25 and first["next_token"]
    second = http.get("/api/v1/instances/", params={"after_token": first["next_token"]}).json()
    assert len(second["instances"]) == 2 and second["next_token"] is None
    one = http.get(
        "/api/v1/instances/", params={"select_filters": json.dumps({"label": {"eq": "aik-p-3"}})}
    ).json()
    assert [inst["label"] for inst in one["instances"]] == ["aik-p-3"]
    bad = http.get(
        "/api/v1/instances/", params={"select_filters": json.dumps({"dph_total": {"lt": 1}})}
    )
    assert bad.status_code == 400 and "not a valid search key" in bad.json()["msg"]


def test_list_answers_the_columns_select_cols_names_unknown_ones_null(http, vast):
    for n in range(27):
        vast.seed(f"aik-c-{n}")
    columns = json.dumps(["id", "label", "no_such_column"])
    first = http.get("/api/v1/instances/", params={"select_cols": columns}).json()
    assert [set(row) for row in first["instances"]] == [{"id", "label", "no_such_column"}] * 25
    assert all(row["no_such_column"] is None for row in first["instances"])
    rest = http.get(
        "/api/v1/instances/",
        params={"select_cols": columns, "after_token": first["next_token"]},
    ).json()
    listed = [row["label"] for row in first["instances"] + rest["instances"]]
    assert listed == [f"aik-c-{n}" for n in range(27)] and rest["next_token"] is None
    full = http.get("/api/v1/instances/", params={"select_cols": '["*"]'}).json()["instances"]
    assert full[0]["onstart"] is None and "extra_env" in full[0]
    bad = http.get("/api/v1/instances/", params={"select_cols": '{"id": 1}'})
    assert bad.status_code == 400


def test_legacy_list_is_gone_with_410(http):
    reply = http.get("/api/v0/instances/")
    assert reply.status_code == 410 and reply.json()["error"] == "deprecated_endpoint"


def test_destroy_then_show_is_null_and_second_destroy_404(http):
    _, reply = _rent(http, "aik-t-2")
    instance_id = reply.json()["new_contract"]
    assert http.request("DELETE", f"/api/v0/instances/{instance_id}/", json={}).json() == {
        "success": True
    }
    assert http.get(f"/api/v0/instances/{instance_id}/").json() == {"instances": None}
    again = http.request("DELETE", f"/api/v0/instances/{instance_id}/", json={})
    assert again.status_code == 404 and again.json()["error"] == "not_found"


def test_boot_goes_null_created_loading_running_on_the_sim_clock(vast, http):
    vast.state.timings.null_s, vast.state.timings.created_s, vast.state.timings.loading_s = (
        10,
        10,
        10,
    )
    _, reply = _rent(http, "aik-t-3")
    instance_id = reply.json()["new_contract"]
    seen = []
    for _ in range(4):
        shown = http.get(f"/api/v0/instances/{instance_id}/").json()["instances"]
        seen.append((shown["actual_status"], shown["ports"]))
        vast.advance(10)
    assert [status for status, _ in seen] == [None, "created", "loading", "running"]
    assert all(ports is None for _, ports in seen[:3]) and seen[3][1] is not None


def test_faults_rate_limit_shapes_and_list_outage(vast, http):
    vast.faults(rate_limit_p=1.0, retry_after_s=3)
    bodies = {http.get("/api/v1/instances/").text for _ in range(30)}
    assert any("API requests too frequent" == body for body in bodies)
    assert any('"detail"' in body for body in bodies)
    assert any('"rate_limit_exceeded"' in body for body in bodies)
    vast.faults(rate_limit_p=0.0, list_outage=True)
    assert http.get("/api/v1/instances/").status_code == 500


def test_destroy_that_lingers_keeps_the_instance_listed(vast, http):
    vast.faults(destroy_linger_s=60)
    _, reply = _rent(http, "aik-t-4")
    instance_id = reply.json()["new_contract"]
    http.request("DELETE", f"/api/v0/instances/{instance_id}/", json={})
    assert [i["id"] for i in http.get("/api/v1/instances/").json()["instances"]] == [instance_id]
    vast.advance(61)
    assert http.get("/api/v1/instances/").json()["instances"] == []


def test_official_vastai_cli_reads_the_simulator(vast):
    """The real `vastai` client (1.9) talks to the simulator: proof the dialect matches."""
    cli = str(Path(sys.executable).with_name("vastai"))
    base = [cli, "--url", vast.url, "--api-key", SIM_KEY, "--raw"]
    vast.seed("aik-cli-1")
    shown = subprocess.run(
        [*base, "show", "instances"], capture_output=True, text=True, timeout=60, check=True
    )
    assert [inst["label"] for inst in json.loads(shown.stdout)] == ["aik-cli-1"]
    offers = subprocess.run(
        [*base, "search", "offers", "num_gpus=1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(offers.stdout)
    assert found and all("dph_total" in o for o in found)
    created = subprocess.run(
        [
            *base,
            "create",
            "instance",
            str(found[0]["id"]),
            "--image",
            "vastai/comfy",
            "--disk",
            "40",
            "--label",
            "aik-cli-2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    new_id = json.loads(created.stdout)["new_contract"]
    assert any(inst["id"] == new_id and inst["label"] == "aik-cli-2" for inst in vast.alive())
    one = subprocess.run(
        [*base, "show", "instance", str(new_id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    shown = json.loads(one.stdout)
    assert (shown["id"], shown["label"], shown["actual_status"]) == (new_id, "aik-cli-2", "running")
    for verb, intended in (("stop", "stopped"), ("start", "running")):
        subprocess.run(
            [*base, verb, "instance", str(new_id)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert [i["intended_status"] for i in vast.alive() if i["id"] == new_id] == [intended]
    subprocess.run(
        [*base, "destroy", "instance", str(new_id)],
        input="y\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert all(inst["id"] != new_id for inst in vast.alive())


def test_create_enforces_vasts_input_limits(http):
    offer = http.post("/api/v0/bundles/", json={}).json()["offers"][0]
    too_long = http.put(
        f"/api/v0/asks/{offer['id']}/", json={"image": "vastai/comfy", "env": {"K": "x" * 257}}
    )
    assert too_long.status_code == 400 and "256" in too_long.json()["msg"]
    script = http.put(
        f"/api/v0/asks/{offer['id']}/", json={"image": "vastai/comfy", "onstart": "x" * 4097}
    )
    assert script.status_code == 400 and script.json()["error"] == "invalid_args"


def test_search_prices_offers_for_the_storage_asked():
    with (
        vast_sim() as sim,
        httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {SIM_KEY}"}) as http,
    ):
        small = {o["id"]: o for o in http.post("/api/v0/bundles/", json={}).json()["offers"]}
        big = http.post("/api/v0/bundles/", json={"allocated_storage": 720}).json()["offers"]
    assert {offer["id"] for offer in big} & set(small)
    for offer in big:
        if offer["id"] in small:
            assert offer["dph_total"] == pytest.approx(offer["dph_base"] + offer["storage_cost"])
            assert offer["dph_total"] > small[offer["id"]]["dph_total"]


def test_each_instance_gets_its_own_comfyui_endpoint_until_it_is_gone():
    fleet = ComfyFleet()
    with (
        vast_sim(endpoints=fleet) as sim,
        httpx.Client(
            base_url=sim.url, headers={"Authorization": f"Bearer {SIM_KEY}"}, timeout=10
        ) as http,
    ):
        _, first = _rent(http, "aik-f-1")
        _, second = _rent(http, "aik-f-2")
        rows = http.get("/api/v1/instances/").json()["instances"]
        ports = {row["id"]: row["ports"]["8188/tcp"][0]["HostPort"] for row in rows}
        assert len(set(ports.values())) == 2
        for port in ports.values():
            assert httpx.get(f"http://127.0.0.1:{port}/system_stats").json()["devices"]
        gone = first.json()["new_contract"]
        http.request("DELETE", f"/api/v0/instances/{gone}/", json={})
        http.get("/api/v1/instances/")  # the next look at the account reaps it
        assert set(fleet.ports()) == {second.json()["new_contract"]}
    fleet.close_all()


def _charged(http, instance_id, start, end):
    filters = json.dumps({"day": {"gte": start, "lte": end}})
    results = http.get("/api/v0/charges/", params={"select_filters": filters}).json()["results"]
    row = next(r for r in results if r["source"] == f"instance-{instance_id}")
    return {item["type"]: item["amount"] for item in row["items"]}


def test_a_stopped_instance_keeps_billing_its_disk_and_runs_again_after_the_restart_delay(
    vast, http
):
    vast.state.timings.restart_s, vast.state.timings.gpu_taken_half_life_s = 40, 1e12
    _, reply = _rent(http, "aik-s-1")
    instance_id = reply.json()["new_contract"]
    assert http.put(f"/api/v0/instances/{instance_id}/", json={"state": "stopped"}).json()[
        "success"
    ]
    stopped = http.get(f"/api/v0/instances/{instance_id}/").json()["instances"]
    assert (stopped["actual_status"], stopped["intended_status"], stopped["cur_state"]) == (
        "stopped",
        "stopped",
        "stopped",
    )
    assert stopped["ports"] is None
    start = vast.dump()["now"]
    vast.advance(3600)
    billed = _charged(http, instance_id, start + 1, start + 3599)
    assert billed["gpu"] == 0 and billed["disk"] > 0
    http.put(f"/api/v0/instances/{instance_id}/", json={"state": "running"})
    restarting = http.get(f"/api/v0/instances/{instance_id}/").json()["instances"]
    assert (restarting["actual_status"], restarting["intended_status"]) == ("loading", "running")
    vast.advance(41)
    running = http.get(f"/api/v0/instances/{instance_id}/").json()["instances"]
    assert running["actual_status"] == "running" and running["ports"]["8188/tcp"]


def test_a_start_after_the_gpu_was_taken_stays_scheduling_and_bills_no_gpu(vast, http):
    vast.state.timings.gpu_taken_half_life_s = 60
    _, reply = _rent(http, "aik-s-2")
    instance_id = reply.json()["new_contract"]
    http.put(f"/api/v0/instances/{instance_id}/", json={"state": "stopped"})
    vast.advance(24 * 3600)  # 1440 half-lives: the GPU is surely rented by someone else
    http.put(f"/api/v0/instances/{instance_id}/", json={"state": "running"})
    start = vast.dump()["now"]
    vast.advance(3600)
    shown = http.get(f"/api/v0/instances/{instance_id}/").json()["instances"]
    assert (shown["actual_status"], shown["cur_state"]) == ("stopped", "stopped")
    assert (shown["intended_status"], shown["next_state"]) == ("running", "running")
    billed = _charged(http, instance_id, start + 1, start + 3599)
    assert billed["gpu"] == 0 and billed["disk"] > 0
    bad = http.put(f"/api/v0/instances/{instance_id}/", json={"state": "frozen"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_args"


def test_min_intervals_are_off_unless_switched_on(http):
    assert [http.get("/api/v0/instances/1/").status_code for _ in range(3)] == [200] * 3


def test_min_intervals_refuse_a_second_call_too_soon_per_endpoint_and_accept_one_after(vast, http):
    vast.faults(min_intervals=True)
    assert http.get("/api/v1/instances/").status_code == 200
    assert http.get("/api/v0/instances/1/").status_code == 200  # another endpoint: its own
    too_soon = http.get("/api/v0/instances/1/")
    assert too_soon.status_code == 429 and "Retry-After" not in too_soon.headers
    assert http.get("/api/v1/instances/").status_code == 429
    vast.advance(1.0)  # list: 1.0 s since its last accepted call
    assert http.get("/api/v1/instances/").status_code == 200
    assert http.get("/api/v0/instances/1/").status_code == 429
    vast.advance(1.0)  # show: 2.0 s
    assert http.get("/api/v0/instances/1/").status_code == 200


def test_min_intervals_answer_in_vasts_three_shapes_naming_the_threshold(vast, http):
    vast.faults(min_intervals=True)
    http.get("/api/v0/instances/1/")
    bodies = {http.get("/api/v0/instances/1/").text for _ in range(30)}
    assert "API requests too frequent" in bodies
    assert '{"detail":"API requests too frequent endpoint threshold=2.0"}' in bodies
    assert any('"rate_limit_exceeded"' in body for body in bodies)


def test_a_create_too_soon_locks_creates_out_for_the_penalty(vast, http):
    vast.faults(min_intervals=True)
    offers = http.post("/api/v0/bundles/", json={}).json()["offers"]
    rent = [
        lambda offer=offer: http.put(f"/api/v0/asks/{offer['id']}/", json={"image": "x"})
        for offer in offers[:3]
    ]
    assert rent[0]().status_code == 200
    assert rent[1]().status_code == 429
    vast.advance(4.5)  # the interval has passed, the penalty (12 s from the refusal) not
    assert rent[1]().status_code == 429
    vast.advance(7.6)
    assert rent[1]().status_code == 200
    assert rent[2]().status_code == 429


def test_search_is_limited_to_ten_a_minute(vast, http):
    vast.faults(min_intervals=True)
    statuses = [http.post("/api/v0/bundles/", json={}).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    vast.advance(60)
    assert http.post("/api/v0/bundles/", json={}).status_code == 200
