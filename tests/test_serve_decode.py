"""scoring.serve.decode and scoring.serve.tensors: requests to features, by the batch scorer's column rules and
number parser; the protocol's binary framing read back by tritonclient's own parser."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.metadata import Metadata
from scoring.io.blocks import Block
from scoring.io.layout import resolve_layout
from scoring.io.parsing import parse_block, parse_float32
from scoring.serve.decode import Number, TableDecoder, load_json
from scoring.serve.errors import RequestError
from scoring.serve.tensors import InferRequest, decode_infer, encode_infer

NAMES = ["radius_mean", "texture_mean", "area_worst"]
INFO = Metadata(feature_names=NAMES, threshold=0.5, feature_aliases={"area_worst": ["worst area"]})
#: 1 + 2**-24 (halfway between float32 1.0 and the next one) plus a little: correctly rounded straight to float32
#: it is the next float32 up; through a float64 it rounds to the halfway point and then to 1.0 (ties to even).
ABOVE_HALFWAY = "1.0000000596046447753906251"


def decoder(**rename: str) -> TableDecoder:
    return TableDecoder(INFO, rename)


def mlflow(payload: str, d: TableDecoder | None = None) -> np.ndarray:
    return (d or decoder()).mlflow(payload.encode())


def refused(status: int, match: str):
    class Check:
        def __enter__(self):
            self.raises = pytest.raises(RequestError, match=match)
            self.info = self.raises.__enter__()
            return self

        def __exit__(self, *exc):
            result = self.raises.__exit__(*exc)
            assert self.info.value.status == status
            return result

    return Check()


def test_json_numbers_keep_their_text_and_parse_as_the_batch_scorer_parses_them() -> None:
    payload = load_json(f'{{"a": [{ABOVE_HALFWAY}, 2, -3e1, NaN]}}'.encode(), exact=True)
    assert all(isinstance(v, Number) for v in payload["a"]) and payload["a"][0] == ABOVE_HALFWAY
    x = mlflow(f'{{"dataframe_split": {{"columns": {json.dumps(NAMES)}, "data": [[{ABOVE_HALFWAY}, 2, -3e1]]}}}}')
    csv = ",".join(NAMES) + f"\n{ABOVE_HALFWAY},2,-3e1\n"
    layout = resolve_layout(NAMES, NAMES, "in.csv")
    from_file = parse_block(Block(csv.split("\n", 1)[1].encode(), 2), layout).features
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape == (1, 3)
    assert x.tobytes() == from_file.tobytes()
    assert x[0, 0] == np.nextafter(np.float32(1), np.float32(2))  # not np.float32(float(ABOVE_HALFWAY)) == 1.0


def near_halfway(seed: int, digits: int) -> str:
    """A decimal a hair off the point halfway between two float32s (where reading it through a float64 can round
    the wrong way), with ``digits`` significant digits."""
    rng = np.random.default_rng(seed)
    low = np.float32(rng.uniform(-1e6, 1e6))
    halfway = (Decimal(float(low)) + Decimal(float(np.nextafter(low, np.float32(np.inf))))) / 2
    nudge = Decimal(int(rng.integers(-3, 4))) * Decimal(10) ** (halfway.adjusted() - digits + 1)
    return f"{halfway + nudge:.{digits}g}"


@given(st.lists(st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False).map(repr),
                          st.floats(allow_nan=False, allow_infinity=False).map(repr),
                          st.integers(-10**20, 10**20).map(str),
                          st.builds(near_halfway, st.integers(0, 10**6), st.integers(17, 30))),
                min_size=3, max_size=3))
def test_json_numbers_read_fast_or_from_their_text_match_the_batch_scorers_parser(texts: list[str]) -> None:
    body = '{"instances": [[' + ", ".join(texts) + "]]}"
    want, _ = parse_float32(texts)
    if not np.isfinite(want).all():
        return  # refused either way (tested below)
    assert mlflow(body).tobytes() == want.tobytes()
    header = json.dumps(features_input([1, 3], data=[0, 0, 0])).replace("[0, 0, 0]", "[" + ", ".join(texts) + "]")
    assert decode_infer(header.encode(), None, 3, NAMES).features.tobytes() == want.tobytes()


@pytest.mark.parametrize("payload", [
    '{"dataframe_split": {"columns": ["AREA WORST", "id", "Radius Mean", "texture_mean"], '
    '"data": [[3, "a", 1, 2], [6, "b", 4, 5]]}}',
    '{"dataframe_records": [{"texture_mean": 2, "radius_mean": 1, "worst area": 3}, '
    '{"radius_mean": 4, "texture_mean": 5, "worst area": 6, "extra": "x"}]}',
    '{"instances": [{"texture_mean": 2, "radius_mean": 1, "area_worst": 3}, '
    '{"texture_mean": 5, "radius_mean": 4, "area_worst": 6}]}',
    '{"instances": [[1, 2, 3], [4, 5, 6]]}',
    '{"inputs": [[1, 2, 3], [4, 5, 6]]}',
    '{"inputs": {"area_worst": [3, 6], "radius_mean": [1, 4], "texture_mean": ["2", "5"]}}',
])
def test_every_mlflow_shape_matches_columns_by_name_in_any_order(payload: str) -> None:
    assert mlflow(payload).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_renames_apply_where_a_request_has_the_old_name() -> None:
    d = decoder(r="radius_mean", t="texture_mean")
    assert mlflow('{"dataframe_records": [{"r": 1, "t": 2, "area_worst": 3}]}', d).tolist() == [[1, 2, 3]]
    assert mlflow('{"dataframe_records": [{"radius_mean": 1, "t": 2, "area_worst": 3}]}', d).tolist() == [[1, 2, 3]]


def test_an_empty_request_has_no_rows() -> None:
    assert mlflow('{"instances": []}').shape == (0, 3)
    assert mlflow(f'{{"dataframe_split": {{"columns": {json.dumps(NAMES)}, "data": []}}}}').shape == (0, 3)


@pytest.mark.parametrize(("payload", "match"), [
    ('[1, 2]', "expected a JSON object"),
    ('{}', "expected exactly one of the keys"),
    ('{"instances": [], "inputs": []}', "expected exactly one of the keys"),
    ('{"dataframe_split": {"columns": ["a"]}}', "'columns' and 'data'"),
    ('{"instances": [[1, 2, 3]], "params": {"t": 1}}', "takes no params"),
    ('{"instances": [[1, 2, 3], [1, 2]]}', r"row 2: expected 3 values"),
    ('{"instances": [[1, 2]]}', r"expected 3 values per row"),
    ('{"instances": [1, 2, 3]}', r"got 1 in row 1"),
    ('{"inputs": {"radius_mean": [1, 2], "texture_mean": [1], "area_worst": [1, 2]}}', "as many values"),
    ('{"dataframe_split": {"columns": [1, 2, 3], "data": [[1, 2, 3]]}}', "column names"),
    ('{"dataframe_records": [{"radius_mean": 1, "texture_mean": 2}]}', r"missing 1 feature columns .*'area_worst'"),
    ('{"dataframe_records": [{"radius_mean": 1, "texture_mean": 2, "area_worst": 3}, {"radius_mean": 1, '
     '"area_worst": 3}]}', r"row 2, column 'texture_mean': expected a number, got null"),
    ('{"dataframe_records": [{"Radius_Mean": 1, "RADIUS MEAN": 1, "texture_mean": 2, "area_worst": 3}]}',
     r"'radius_mean' matches 2 columns"),
    ('{"instances": [[1, 2, 3], [1, "x", 3]]}', r"row 2, column 'texture_mean': expected a number, got 'x'"),
    ('{"instances": [[1, 2, 3], [1, 2, true]]}', r"row 2, column 'area_worst': expected a number, got a boolean"),
    ('{"instances": [[1, 2, NaN]]}', r"row 1, column 'area_worst': expected a finite number, got NaN"),
    ('{"instances": [[1, 2, 1e999]]}', r"row 1, column 'area_worst': expected a finite number, got an infinite"),
])
def test_bad_payloads_are_400_with_where_and_what(payload: str, match: str) -> None:
    with refused(400, match):
        mlflow(payload)


def test_malformed_json_is_400() -> None:
    with refused(400, "not valid JSON: Expecting"):
        load_json(b'{"instances": [')
    with refused(400, "not valid JSON"):
        load_json(b"\xff\xfe{")


def test_csv_body_is_parsed_as_a_file_with_line_and_column_in_errors() -> None:
    d = decoder()
    body = f"\ufeffid;AREA_WORST;radius_mean;texture_mean\r\n1;3;1;2\r\n2;6;4;{ABOVE_HALFWAY}\r\n".encode()
    x = d.csv(body)
    assert x[:, :2].tolist() == [[1, 2], [4, np.nextafter(np.float32(1), np.float32(2))]] and x[:, 2].tolist() == [3, 6]
    with refused(400, r"CSV body, line 3, column 2 \('texture_mean'\): expected a number, got 'abc'"):
        d.csv(b"radius_mean,texture_mean,area_worst\n1,2,3\n1,abc,3\n")
    with refused(400, r"CSV body, line 2: expected 3 fields .*saw 2"):
        d.csv(b"radius_mean,texture_mean,area_worst\n1,2\n")
    with refused(400, r"CSV body, line 1: missing 1 feature columns"):
        d.csv(b"radius_mean,texture_mean\n1,2\n")
    with refused(400, "empty"):
        d.csv(b"\n")


# ------------------------------------------------------------------------------------ Open Inference Protocol


def infer_body(header: dict, binary: bytes = b"") -> tuple[bytes, str | None]:
    text = json.dumps(header).encode()
    return text + binary, str(len(text)) if binary else None


def features_input(shape: list[int], **extra) -> dict:
    return {"inputs": [{"name": "features", "datatype": "FP32", "shape": shape, **extra}]}


def test_infer_takes_binary_json_flat_and_nested_data_alike() -> None:
    x = np.array([[1, 2, 3], [4, 5, float(ABOVE_HALFWAY)]], np.float32)
    body, length = infer_body(features_input([2, 3], parameters={"binary_data_size": 24}), x.tobytes())
    binary = decode_infer(body, length, 3, NAMES)
    flat = decode_infer(*infer_body(features_input([2, 3], data=[1, 2, 3, 4, 5, 6])), 3, NAMES)
    nested = decode_infer(*infer_body(features_input([2, 3], data=[[1, 2, 3], [4, 5, 6]])), 3, NAMES)
    assert binary.features.tobytes() == x.tobytes()
    assert flat.features.tolist() == nested.features.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert binary.outputs == [("probability", False), ("logit", False), ("label", False)]
    text = json.dumps({**features_input([1, 3], data=[0, 0, 0]), "id": "r1", "parameters": {"binary_data_output": True},
                       "outputs": [{"name": "label"}, {"name": "logit", "parameters": {"binary_data": False}}]})
    request = decode_infer(text.replace("[0, 0, 0]", f"[0, 0, {ABOVE_HALFWAY}]").encode(), None, 3, NAMES)
    assert request.id == "r1" and request.outputs == [("label", True), ("logit", False)]
    assert request.features[0, 2] == np.nextafter(np.float32(1), np.float32(2))


@pytest.mark.parametrize(("header", "binary", "length", "match"), [
    ({"inputs": []}, b"", None, "one input, 'features'"),
    (features_input([1, 3], data=[1, 2, 3]) | {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3]}]}, b"",
     None, "unknown input 'x'"),
    (features_input([1, 4], data=[1, 2, 3, 4]), b"", None, r"4 columns .* shape \[N, 3\]"),
    (features_input([3], data=[1, 2, 3]), b"", None, r"shape \[3\]; expected \[N, 3\]"),
    (features_input([1, 3], data=[1, 2]), b"", None, "needs 3 values, 'data' has 2"),
    (features_input([1, 3], data=[1, None, 3]), b"", None, "row 1, column 'texture_mean': expected a number, got null"),
    (features_input([1, 3], parameters={"binary_data_size": 8}), b"\0" * 8, "auto", "takes 12 bytes"),
    (features_input([1, 3], parameters={"binary_data_size": 12}), b"\0" * 8, "auto", "8 follow"),
    (features_input([1, 3], parameters={"binary_data_size": 12}),
     np.array([1, np.inf, 2], np.float32).tobytes(), "auto", r"row 1, column 2 \('texture_mean'\): .*finite"),
    (features_input([1, 3], data=[1, 2, 3]), b"\0" * 4, "auto", "no input has 'binary_data_size'"),
    (features_input([1, 3], data=[1, 2, 3]), b"", "9999", "Inference-Header-Content-Length must be"),
    (features_input([1, 3], data=[1, 2, 3]) | {"outputs": [{"name": "label", "parameters": {"classification": 2}}]},
     b"", None, "classification extension is not supported"),
])
def test_bad_infer_requests_are_400(header: dict, binary: bytes, length: str | None, match: str) -> None:
    body, own = infer_body(header, binary)
    with refused(400, match):
        decode_infer(body, own if length == "auto" else length, 3, NAMES)


def test_binary_outputs_are_read_back_by_tritonclients_own_parser() -> None:
    http = pytest.importorskip("tritonclient.http")
    results = {"probability": np.array([0.25, 0.75], np.float32), "logit": np.array([-1.0986123, 1.0986123], np.float32),
               "label": np.array([0, 1], np.int64)}
    request = InferRequest(np.zeros((2, 3), np.float32), [("label", True), ("probability", False), ("logit", True)],
                           "abc")
    body, headers = encode_infer("m", "1", request, results)
    result = http.InferResult.from_response_body(body, header_length=int(headers["inference-header-content-length"]))
    assert result.as_numpy("label").tolist() == [0, 1] and result.as_numpy("label").dtype == np.int64
    assert result.as_numpy("probability").tobytes() == results["probability"].tobytes()
    assert result.as_numpy("logit").tobytes() == results["logit"].tobytes()
    assert result.get_response()["id"] == "abc" and headers["content-type"] == "application/octet-stream"
    body, headers = encode_infer("m", "1", InferRequest(request.features, [("probability", False)]), results)
    assert "inference-header-content-length" not in headers
    assert json.loads(body)["outputs"] == [{"name": "probability", "datatype": "FP32", "shape": [2],
                                           "data": [0.25, 0.75]}]


def test_tables_are_read_with_the_models_missing_value_spellings_and_decimal_mark() -> None:
    """As the batch scorer reads a file for this model: '66,7' is a number with a decimal-comma model, 'NA' is a
    missing value (refused as one, naming row and column)."""
    comma = TableDecoder(Metadata(feature_names=NAMES, threshold=0.5, na_values=["NA"], decimal=","))
    x = comma.csv(("radius_mean;texture_mean;area_worst\n66,7;1;-2,5\n").encode())
    assert x.tolist() == [[np.float32(66.7), 1.0, -2.5]]
    split = f'{{"dataframe_split": {{"columns": {json.dumps(NAMES)}, "data": [["66,7", "1", "2"]]}}}}'
    assert mlflow(split, comma).tobytes() == np.array([[x[0, 0], 1, 2]], np.float32).tobytes()
    with refused(400, r"row 1, column 'texture_mean': expected a number, got a missing value \('NA'\)"):
        mlflow(f'{{"dataframe_split": {{"columns": {json.dumps(NAMES)}, "data": [["1", "NA", "2"]]}}}}', comma)
    with refused(400, r"line 2, column 2 \('texture_mean'\): expected a number, got a missing value"):
        comma.csv(b"radius_mean;texture_mean;area_worst\n1;NA;2\n")
    with refused(400, r"'66,7' \(a decimal comma: pass --decimal ,"):
        mlflow(split)  # a model trained on '.' numbers: the comma is named
