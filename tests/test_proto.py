"""The committed generated gRPC code matches proto/ and imports under its own package name."""

from __future__ import annotations

import pytest

pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) generates the code")


def test_generated_code_matches_proto() -> None:
    from uniflg_bridge import protogen

    assert protogen.check() == [], "run `make proto` and commit engine_bridge/generated"


def test_generated_code_imports_as_uniflgapi() -> None:
    from uniflgapi.v1 import uniflg_pb2, uniflg_pb2_grpc

    assert uniflg_pb2.DESCRIPTOR.package == "uniflgapi.v1"
    assert uniflg_pb2.DESCRIPTOR.name == "uniflgapi/v1/uniflg.proto"
    assert hasattr(uniflg_pb2_grpc, "UniFLGServiceStub")
    # The contract names engine plugins rely on.
    service = uniflg_pb2.DESCRIPTOR.services_by_name["UniFLGService"]
    assert {m.name for m in service.methods} == {"Synthesize", "Animate", "GetInfo"}
    frame = uniflg_pb2.LandmarkFrame.DESCRIPTOR.fields_by_name
    assert list(frame) == ["index", "time_code", "points", "blendshapes"]


def test_enum_zero_values_are_unspecified() -> None:
    from uniflgapi.v1 import uniflg_pb2

    for enum in uniflg_pb2.DESCRIPTOR.enum_types_by_name.values():
        assert enum.values_by_number[0].name.endswith("_UNSPECIFIED"), enum.name
