"""Shaping raw Close records (the documented example payloads) into typed Arrow batches."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from closesync.close.timestamps import parse_timestamp
from closesync.reports import REPORTS, CustomField, Shaper, get_report
from closesync.reports.columns import is_json_field
from closesync.reports.custom_fields import assign_columns, snake_case
from closesync.reports.nesting import nested_rows
from closesync.reports.timeparse import dates, timestamps

EXAMPLES = Path(__file__).parent / "data" / "close_examples"  # Close's documented payloads
UTC_US = pa.timestamp("us", tz="UTC")


def example(name: str) -> Any:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():  # the shared examples live outside the repo; keep a readable failure
        pytest.fail(f"missing example payload {path}")
    return json.loads(path.read_text())


def rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    return batch.to_pylist()


def lead_fields(*defs: tuple[str, str, str, bool], kind: str = "lead") -> list[CustomField]:
    return [
        CustomField.from_definition(
            {
                "id": i,
                "name": n,
                "type": t,
                "accepts_multiple_values": m,
                "date_created": f"2020-01-0{k + 1}",
            },
            kind,
        )
        for k, (i, n, t, m) in enumerate(defs)
    ]


# -- types ------------------------------------------------------------------------------------------------


def test_call_example_types() -> None:
    shaper = Shaper(get_report("activities_call"))
    batch = shaper.shape(example("activity_call")["data"])
    schema = batch.schema
    assert schema.field("date_created").type == UTC_US
    assert schema.field("activity_at").type == UTC_US
    assert schema.field("duration").type == pa.int64()
    assert schema.field("users").type == pa.list_(pa.string())
    assert schema.field("id").type == pa.string()
    assert is_json_field(schema.field("extra")) and is_json_field(schema.field("coach_legs"))
    (row,) = rows(batch)
    assert row["date_created"] == datetime(2013, 2, 20, 6, 34, 33, 637000, tzinfo=UTC)
    assert row["activity_at"] == datetime(2013, 2, 1, 0, 51, 33, tzinfo=UTC)
    assert row["duration"] == 10 and row["cost"] == 2.0 and row["users"] == []
    assert row["extra"] is None
    assert batch.schema == shaper.schema


def test_money_stays_integer_cents_and_dates_are_dates() -> None:
    batch = Shaper(get_report("opportunities")).shape(example("opportunity")["data"])
    assert batch.schema.field("value").type == pa.int64()
    assert batch.column("value").to_pylist() == [300000, 50000, 5000]
    assert batch.column("annualized_expected_value").to_pylist() == [225000, 37500, 30000]
    assert batch.schema.field("date_won").type == pa.date32()
    change = Shaper(get_report("activities_opportunity_status_change")).shape(
        example("activity_status_change_opportunity")["data"]
    )
    assert change.column("opportunity_value").type == pa.int64()
    assert change.column("opportunity_date_won").to_pylist() == [date(2013, 8, 23)]


def test_nested_objects_become_json_and_bools_are_bools() -> None:
    batch = Shaper(get_report("activities_emails")).shape(example("activity_email")["data"])
    envelope = json.loads(batch.column("envelope")[0].as_py())
    assert envelope["subject"] == "Testing testing!!!!"
    assert json.loads(batch.column("attachments")[0].as_py())[0]["size"] == 1108447
    assert batch.column("to").to_pylist()[0] == ["phil@close.com"]
    assert batch.column("has_reply").type == pa.bool_() and batch.column("has_reply").to_pylist() == [
        False,
        False,
    ]
    assert batch.column("extra").null_count == 2


def test_every_example_shapes_without_losing_keys() -> None:
    """Each documented payload shapes into its report; whatever is not a column is in extra."""
    pairs = {
        "activity_call": "activities_call",
        "activity_custom": "custom_activity_instances",
        "activity_email": "activities_emails",
        "activity_emailthread": "activities_email_threads",
        "activity_note": "activities_notes",
        "activity_status_change_lead": "activities_lead_status_change",
        "activity_status_change_opportunity": "activities_opportunity_status_change",
        "bulk_action_email": "bulk_actions",
        "contact": "contacts",
        "email_template": "email_templates",
        "export": "exports",
        "lead": "leads",
        "opportunity": "opportunities",
        "saved_search": "smart_views",
        "status_lead": "lead_statuses",
        "status_opportunity": "opportunity_statuses",
        "task": "tasks",
        "user_list": "users",
    }
    for name, slug in pairs.items():
        records = example(name)["data"]
        shaper = Shaper(get_report(slug))
        batch = shaper.shape(records)
        assert batch.num_rows == len(records), name
        columns = {c.source_key for c in shaper.columns} | set(shaper.spec.omit)
        for record, row in zip(records, rows(batch), strict=True):
            extra = json.loads(row["extra"]) if row["extra"] else {}
            for key in record:
                assert key in columns or key in extra, (name, key)
        assert batch.column("id").null_count == 0, name


# -- timestamps -------------------------------------------------------------------------------------------


def test_every_timestamp_format_in_the_reference() -> None:
    values = [
        "2013-02-01T00:54:51.337000+00:00",  # micro + offset
        "2014-12-07T04:10:46+00:00",  # no fraction
        "2019-11-04T11:04:13.014979",  # no offset: UTC
        "2015-02-08",  # bare date
        "2015-02-08T00:00:00Z",
        "2015-02-08T01:00:00.123-02:00",  # milliseconds, other offset
        None,
    ]
    array, bad = timestamps(values)
    assert array.type == UTC_US and bad == {}
    assert array.to_pylist() == [
        datetime(2013, 2, 1, 0, 54, 51, 337000, tzinfo=UTC),
        datetime(2014, 12, 7, 4, 10, 46, tzinfo=UTC),
        datetime(2019, 11, 4, 11, 4, 13, 14979, tzinfo=UTC),
        datetime(2015, 2, 8, tzinfo=UTC),
        datetime(2015, 2, 8, tzinfo=UTC),
        datetime(2015, 2, 8, 3, 0, 0, 123000, tzinfo=UTC),
        None,
    ]


def test_reference_formats_take_the_vectorised_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mixed offsets, bare dates and offset-less values must not drop to per-value Python parsing."""
    import closesync.reports.timeparse as tp

    def boom(value: Any) -> None:
        raise AssertionError(f"per-value fallback used for {value!r}")

    monkeypatch.setattr(tp, "parse_timestamp", boom)
    array, _ = tp.timestamps(["2015-02-08", "2019-11-04T11:04:13.014979", "2014-12-07T04:10:46+00:00", None])
    assert array.null_count == 1


def test_non_dict_records_are_kept() -> None:
    (row,) = rows(Shaper(get_report("users")).shape(["odd"]))  # type: ignore[list-item]
    assert json.loads(row["extra"]) == {"value": "odd"}


def test_odd_timestamps_fall_back_and_garbage_is_reported() -> None:
    array, bad = timestamps(
        ["Fri, 08 Feb 2013 05:03:15 +0000", "2015-02-08T00:00:00.1234567+00:00", "soon", ""]
    )
    assert array.to_pylist()[:2] == [
        datetime(2013, 2, 8, 5, 3, 15, tzinfo=UTC),
        datetime(2015, 2, 8, 0, 0, 0, 123456, tzinfo=UTC),
    ]
    assert array.to_pylist()[2:] == [None, None]
    assert bad == {2: "soon"}
    assert parse_timestamp("2019-11-04T11:04:13") == datetime(2019, 11, 4, 11, 4, 13, tzinfo=UTC)
    days, bad_days = dates(["2015-02-08", "2013-08-23T00:00:00+00:00", None, "nope"])
    assert days.to_pylist() == [date(2015, 2, 8), date(2013, 8, 23), None, None]
    assert bad_days == {3: "nope"}


def test_task_date_may_be_a_bare_date() -> None:
    records = example("task")["data"]
    batch = Shaper(get_report("tasks")).shape(records)
    assert batch.schema.field("date").type == UTC_US
    assert batch.column("date").null_count == sum(1 for r in records if r.get("date") is None)
    assert batch.column("extra").null_count == len(records)


# -- custom fields ----------------------------------------------------------------------------------------


def test_snake_case_names() -> None:
    assert snake_case("Deal Size ($)") == "deal_size"
    assert snake_case("# of users") == "of_users"
    assert snake_case("Région Préférée") == "region_preferee"
    assert snake_case("LinkedIn Profile") == "linked_in_profile"
    assert snake_case("2024 Budget") == "cf_2024_budget"
    assert snake_case("$$$") == "custom_field"


def test_custom_fields_become_typed_named_columns() -> None:
    defs = [CustomField.from_definition(d, "lead") for d in example("custom_field_lead")["data"]]
    shaper = Shaper(get_report("leads"), defs)
    names = {c.name: c for c in shaper.columns}
    assert names["of_users"].type == "float"
    assert names["industry"].type == "list"
    assert names["trial_due"].type == "date"
    # the docs example reuses one id for two definitions: one column per id
    assert (
        sum(1 for c in shaper.columns if c.key == "custom.cf_MakiQgTzKXrcL8sDJbS2lkuUcA2FxZJAW8Q38ARgwWh")
        == 1
    )
    record = {
        "id": "lead_1",
        "custom.cf_v6S011I6MqcbVvB2FA5Nk8dr5MkL8sWuCiG8cUleO9c": 12,
        "custom.cf_8wtBWsdRU2Fur7GDnEeXQ7ra2Vu7R4hG1SNYdiEhh0F": ["Apparel", "Cars"],
        "custom.cf_MakiQgTzKXrcL8sDJbS2lkuUcA2FxZJAW8Q38ARgwWh": "2024-05-01",
        "custom.cf_unknownfield": "kept",
    }
    (row,) = rows(shaper.shape([record]))
    assert row["of_users"] == 12.0 and row["industry"] == ["Apparel", "Cars"]
    assert row["trial_due"] == date(2024, 5, 1)
    assert json.loads(row["extra"]) == {"custom.cf_unknownfield": "kept"}
    mapping = {r["field_id"]: r for r in shaper.custom_field_rows()}
    assert mapping["cf_v6S011I6MqcbVvB2FA5Nk8dr5MkL8sWuCiG8cUleO9c"]["column"] == "of_users"
    assert mapping["cf_8wtBWsdRU2Fur7GDnEeXQ7ra2Vu7R4hG1SNYdiEhh0F"]["report"] == "leads"


def test_custom_field_types_from_definitions() -> None:
    fields = lead_fields(
        ("cf_a1", "Seats", "number", False),
        ("cf_a2", "Signed", "date", False),
        ("cf_a3", "Kickoff", "datetime", False),
        ("cf_a4", "Owners", "user", True),
        ("cf_a5", "Owner", "user", False),
        ("cf_a6", "Tier", "choices", False),
        ("cf_a7", "Whatever", "some_new_type", False),
        kind="opportunity",
    )
    shaper = Shaper(get_report("opportunities"), fields)
    schema = shaper.schema
    assert schema.field("seats").type == pa.float64()
    assert schema.field("signed").type == pa.date32()
    assert schema.field("kickoff").type == UTC_US
    assert schema.field("owners").type == pa.list_(pa.string())
    assert schema.field("owner").type == pa.string()
    assert schema.field("tier").type == pa.string()
    assert schema.field("whatever").type == pa.string()
    (row,) = rows(
        shaper.shape([{"id": "oppo_1", "custom.cf_a3": "2024-01-02T03:04:05+01:00", "custom.cf_a7": 5}])
    )
    assert row["kickoff"] == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC) and row["whatever"] == "5"
    # other kinds' fields do not leak into this report
    assert "seats" not in Shaper(get_report("leads"), fields).schema.names


def test_custom_field_name_collisions_are_safe_and_stable() -> None:
    fields = lead_fields(
        ("cf_RegionOld1", "Region", "text", False),
        ("cf_regionNew2", "region", "text", False),
        ("cf_Name3", "Name", "text", False),  # collides with the built-in `name`
        ("cf_Deal4", "Deal Size ($)", "number", False),
        ("cf_Deal5", "Deal size", "number", False),
        ("cf_Extra6", "Extra", "text", False),  # collides with the extra column
    )
    first = {
        f.id: c.name
        for f, c in assign_columns(fields, [c.name for c in get_report("leads").columns] + ["extra"])
    }
    assert first["cf_RegionOld1"] == "region"
    assert first["cf_regionNew2"].startswith("region_") and first["cf_regionNew2"] != "region"
    assert first["cf_Name3"].startswith("name_")
    assert first["cf_Deal4"] == "deal_size" and first["cf_Deal5"].startswith("deal_size_")
    assert first["cf_Extra6"] != "extra"
    assert len(set(first.values())) == len(first)
    # stable: same names whatever order the definitions come in, and when an unrelated field is added
    shuffled = fields[:]
    random.Random(3).shuffle(shuffled)
    shuffled.append(CustomField("cf_New7", "Brand new", "text", date_created="2030-01-01"))
    again = {
        f.id: c.name
        for f, c in assign_columns(shuffled, [c.name for c in get_report("leads").columns] + ["extra"])
    }
    assert {k: again[k] for k in first} == first
    shaper = Shaper(get_report("leads"), fields)
    assert len(shaper.schema.names) == len(set(shaper.schema.names))


# -- never lose data, never crash -------------------------------------------------------------------------


def test_unknown_keys_and_untypable_values_land_in_extra() -> None:
    shaper = Shaper(get_report("activities_call"))
    records = [
        {"id": "acti_1", "duration": "42", "brand_new_key": {"a": 1}},
        {"id": "acti_2", "duration": "forever", "date_created": "not a date", "has_recording": "yes"},
        {"id": "acti_3", "duration": 7.0, "users": "user_x", "note": 5},
        {"id": "acti_4", "duration": 7.5},
    ]
    batch = shaper.shape(records)
    got = rows(batch)
    assert [r["duration"] for r in got] == [42, None, 7, None]
    assert json.loads(got[0]["extra"]) == {"brand_new_key": {"a": 1}}
    assert json.loads(got[1]["extra"]) == {"duration": "forever", "date_created": "not a date"}
    assert got[1]["has_recording"] is True
    assert got[2]["users"] == ["user_x"] and got[2]["note"] == "5" and got[2]["extra"] is None
    assert json.loads(got[3]["extra"]) == {"duration": 7.5}


def test_mixed_records_and_empty_batches() -> None:
    shaper = Shaper(get_report("tasks"))
    assert shaper.shape([]).num_rows == 0
    assert shaper.shape([]).schema == shaper.schema
    batch = shaper.shape([{"id": "task_1"}, {"id": "task_2", "is_complete": True, "date": "2024-01-01"}])
    assert batch.column("is_complete").to_pylist() == [None, True]


def test_search_envelope_key_is_not_data() -> None:
    (row,) = rows(Shaper(get_report("leads")).shape([{"__object_type": "lead", "id": "lead_1"}]))
    assert row["extra"] is None


# -- nested reports ---------------------------------------------------------------------------------------


def test_nested_rows_carry_parent_key_and_position() -> None:
    lead = example("lead_created")
    spec = get_report("leads_addresses")
    batch = Shaper(spec).shape(nested_rows(spec, [lead]))
    (row,) = rows(batch)
    assert row["lead_id"] == lead["id"] and row["position"] == 0 and row["city"] == "San Francisco"
    assert batch.schema.names[:2] == ["lead_id", "position"]
    contacts = get_report("leads_contacts")
    contact_rows = rows(Shaper(contacts).shape(nested_rows(contacts, example("lead")["data"])))
    assert [r["position"] for r in contact_rows] == list(range(len(contact_rows)))
    assert json.loads(contact_rows[0]["emails"])[0]["type"] == "office"  # not its own report here: JSON


def test_contact_children_carry_contact_and_lead() -> None:
    contact = {
        "id": "cont_1",
        "lead_id": "lead_1",
        "emails": [{"email": "a@x"}, {"email": "b@x"}],
        "urls": [],
    }
    spec = get_report("contacts_emails")
    got = rows(Shaper(spec).shape(nested_rows(spec, [contact])))
    assert [(r["contact_id"], r["lead_id"], r["position"], r["email"]) for r in got] == [
        ("cont_1", "lead_1", 0, "a@x"),
        ("cont_1", "lead_1", 1, "b@x"),
    ]
    assert nested_rows(get_report("contacts_urls"), [contact]) == []


def test_pipeline_statuses_flatten_with_fallback() -> None:
    org = example("organization")
    spec = get_report("organizations_opportunity_statuses")
    got = rows(Shaper(spec).shape(nested_rows(spec, [org])))
    expected = [(p["id"], s["id"]) for p in org["pipelines"] for s in p["statuses"]]
    assert [(r["pipeline_id"], r["id"]) for r in got] == expected
    assert [r["position"] for r in got] == list(range(len(expected)))
    assert all(r["organization_id"] == org["id"] and r["pipeline_name"] for r in got)
    legacy = {"id": "orga_1", "opportunity_statuses": [{"id": "stat_1", "label": "Active", "type": "active"}]}
    notes: list[str] = []
    (row,) = nested_rows(spec, [legacy], notes)
    assert row["id"] == "stat_1" and row["organization_id"] == "orga_1" and notes


def test_missing_nested_key_yields_no_rows_and_a_note() -> None:
    notes: list[str] = []
    assert nested_rows(get_report("organizations_invoices"), [example("organization")], notes) == []
    assert notes and "invoices" in notes[0]
    me = example("me")
    notes = []
    sip = nested_rows(get_report("users_self_sip_numbers"), [me], notes)
    assert [r["id"] for r in sip] == [p["id"] for p in me["phone_numbers"]]
    assert sip[0]["user_id"] == me["id"] and "phone_numbers" in notes[0]


def test_all_specs_have_consistent_schemas() -> None:
    for spec in REPORTS:
        shaper = Shaper(spec)
        assert shaper.schema.names[-1] == "extra"
        assert len(shaper.schema.names) == len(set(shaper.schema.names)), spec.slug
        assert shaper.shape([]).num_rows == 0


def test_lone_surrogates_never_crash_and_are_kept() -> None:
    """json.loads turns a "\\ud800" escape into a lone surrogate, which UTF-8 text cannot hold."""
    odd = json.loads('"bad \\ud800 text"')
    shaper = Shaper(get_report("activities_notes"))
    batch = shaper.shape(
        [
            {"id": "acti_1", "note": odd, "attachments": [{"filename": odd}], "date_created": odd},
            {"id": "acti_2", "note": "fine", "users": [odd], "brand_new": odd},
        ]
    )
    first, second = rows(batch)
    assert first["note"] is None and json.loads(first["extra"])["note"] == odd
    assert json.loads(first["attachments"])[0]["filename"] == odd
    assert json.loads(first["extra"])["date_created"] == odd
    assert second["note"] == "fine" and second["users"] is None
    assert json.loads(second["extra"]) == {"users": [odd], "brand_new": odd}


def test_out_of_range_values_are_kept_not_crashed() -> None:
    batch = Shaper(get_report("opportunities")).shape(
        [{"id": "oppo_1", "value": 2**70, "date_won": 20200101}, {"id": "oppo_2", "value": 5}]
    )
    first, second = rows(batch)
    assert first["value"] is None and second["value"] == 5
    assert json.loads(first["extra"]) == {"value": 2**70, "date_won": 20200101}
