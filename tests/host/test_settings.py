"""ServeSettings travel to worker processes as JSON; plugins keep objects in typed slots."""

from robutler_monitoring.host.settings import ServeSettings, Slot

RUNTIME: Slot[list[str]] = Slot("test.runtime")
OTHER: Slot[list[str]] = Slot("test.runtime")  # same name, another plugin: still its own slot


def test_round_trip_keeps_everything_but_the_slots() -> None:
    settings = ServeSettings(
        target="a:b",
        port=9001,
        workers=3,
        max_header_bytes=1024,
        disabled_plugins=("x",),
        config_sections=("monitoring", "x"),
        plugin_options={"k": "v"},
    )
    RUNTIME.set(settings, ["kept in this process"])
    again = ServeSettings.from_json(settings.to_json())
    assert again == settings
    assert RUNTIME.get(again) is None


def test_slots_are_typed_per_owner_and_offer_no_string_keys() -> None:
    settings = ServeSettings()
    mine = RUNTIME.setdefault(settings, list)
    assert RUNTIME.setdefault(settings, lambda: ["never made"]) is mine
    assert OTHER.get(settings) is None
    assert not hasattr(settings, "state")


def test_base_url_for_wildcard_and_ipv6_hosts() -> None:
    assert ServeSettings(host="0.0.0.0", port=1).base_url == "http://127.0.0.1:1"
    assert ServeSettings(host="::1", port=2).base_url == "http://[::1]:2"
