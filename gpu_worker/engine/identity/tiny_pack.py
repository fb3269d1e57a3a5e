"""A tiny insightface-layout model pack built in code, for tests and timing without weights.

It holds two ONNX models that insightface routes by their shapes, as it routes buffalo_l:

- ``det_tiny.onnx``, an SCRFD-layout detector: input ``1x3xHxW``, nine outputs (scores,
  box distances, 5-point landmarks for strides 8, 16 and 32, two anchors each). Its
  "face" is the brightest 32x32 block of the image: that block's anchor gets a confident
  score when the block stands out from the image mean, so a blank image has no face and
  anything with contrast has exactly one. Boxes are 128 px squares centred on the block,
  landmarks sit where ArcFace's alignment template expects them.
- ``rec_tiny.onnx``, an ArcFace-layout recognizer: input ``Nx3x112x112``, output ``Nx512``,
  random weights (a fixed seed): the embedding depends on the aligned crop, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DETECTOR_FILE = "det_tiny.onnx"
RECOGNIZER_FILE = "rec_tiny.onnx"
EMBEDDING_SIZE = 512
STRIDES = (8, 16, 32)
FACE_STRIDE = 32
ANCHORS = 2
OPSET = 17
IR_VERSION = 8  # readable by onnxruntime releases from 1.10 on

# ArcFace's 112x112 five-point alignment template (eyes, nose, mouth corners).
ARCFACE_TEMPLATE = np.array(
    [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]
)
FACE_BOX_SIZE = 128.0

# node(op, inputs, output, **attributes) appends a node and returns its output name.
NodeAppender = Callable[..., str]


def build_tiny_insightface_pack(directory: str | Path, *, seed: int = 0) -> Path:
    """Write the two models into ``directory`` (created if needed) and return it."""
    pack = Path(directory)
    pack.mkdir(parents=True, exist_ok=True)
    onnx.save(_detector_model(), str(pack / DETECTOR_FILE))
    onnx.save(_recognizer_model(np.random.default_rng(seed)), str(pack / RECOGNIZER_FILE))
    return pack


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _const(name: str, value: np.ndarray | float | list[int]) -> onnx.TensorProto:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
    return numpy_helper.from_array(array, name)


def _face_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Box distances (left, top, right, bottom) and landmark offsets, in stride units.

    SCRFD places anchors on the top-left corner of each cell; the face is centred on the
    cell's middle, half a stride further.
    """
    half_box = FACE_BOX_SIZE / 2
    cell_middle = FACE_STRIDE / 2
    distances = np.array(
        [
            half_box - cell_middle,
            half_box - cell_middle,
            half_box + cell_middle,
            half_box + cell_middle,
        ]
    )
    landmarks = cell_middle + (ARCFACE_TEMPLATE - 56.0) * FACE_BOX_SIZE / 112.0
    return distances / FACE_STRIDE, landmarks.ravel() / FACE_STRIDE


def _detector_model() -> onnx.ModelProto:
    nodes: list[onnx.NodeProto] = []
    inits = [
        _const("zero", 0.0),
        _const("one", 1.0),
        _const("silent_logit", -10.0),
        _const("onehot_gain", 40.0),
        _const("contrast_gain", 20.0),
        _const("logit_offset", -2.0),
        _const("second_anchor_offset", -40.0),
        _const("flat_shape", [1, -1]),
        _const("axis_one", np.array(1, dtype=np.int64)),
        _const("rows_1", [-1, 1]),
        _const("rows_4", [-1, 4]),
        _const("rows_10", [-1, 10]),
    ]
    distances, landmarks = _face_offsets()
    inits += [
        _const("box_w", np.zeros((4 * ANCHORS, 3, 1, 1))),
        _const("box_b", np.tile(distances, ANCHORS)),
        _const("kps_w", np.zeros((10 * ANCHORS, 3, 1, 1))),
        _const("kps_b", np.tile(landmarks, ANCHORS)),
    ]

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{output}", **attrs))
        return output

    def as_rows(tensor: str, rows: str, name: str) -> str:
        # NCHW -> (H*W*anchors, features): SCRFD's per-anchor row order.
        return node(
            "Reshape", [node("Transpose", [tensor], f"{name}_nhwc", perm=[0, 2, 3, 1]), rows], name
        )

    scores, boxes, kpss = [], [], []
    for stride in STRIDES:
        pooled = node(
            "AveragePool",
            ["input.1"],
            f"pool{stride}",
            kernel_shape=[stride, stride],
            strides=[stride, stride],
        )
        bright = node("ReduceMean", [pooled], f"bright{stride}", axes=[1], keepdims=1)
        if stride == FACE_STRIDE:
            logit = _brightest_block_logit(node, bright)
        else:
            logit = node(
                "Add",
                [node("Mul", [bright, "zero"], f"z{stride}"), "silent_logit"],
                f"logit{stride}",
            )
        quiet = node("Add", [logit, "second_anchor_offset"], f"logit{stride}_b")
        both = node("Concat", [logit, quiet], f"anchors{stride}", axis=1)
        prob = node("Sigmoid", [both], f"prob{stride}")
        scores.append(as_rows(prob, "rows_1", f"score_{stride}"))
        box = node("Conv", [pooled, "box_w", "box_b"], f"boxmap{stride}")
        boxes.append(as_rows(box, "rows_4", f"bbox_{stride}"))
        kps = node("Conv", [pooled, "kps_w", "kps_b"], f"kpsmap{stride}")
        kpss.append(as_rows(kps, "rows_10", f"kps_{stride}"))

    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [f"n{name}", width])
        for names, width in ((scores, 1), (boxes, 4), (kpss, 10))
        for name in names
    ]
    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])
    return _model(helper.make_graph(nodes, "tiny_scrfd", [image], outputs, inits))


def _brightest_block_logit(node: NodeAppender, bright: str) -> str:
    """Logit map: high only at the first brightest cell, scaled by its contrast to the mean."""
    flat = node("Reshape", [bright, "flat_shape"], "flat")
    winner = node(
        "Cast",
        [node("ArgMax", [flat], "winner_i", axis=1, keepdims=1)],
        "winner",
        to=TensorProto.FLOAT,
    )
    ones = node("Add", [node("Mul", [flat, "zero"], "flat0"), "one"], "ones")
    index = node("Sub", [node("CumSum", [ones, "axis_one"], "count"), "one"], "index")
    hit = node("Cast", [node("Equal", [index, winner], "hit_b")], "hit", to=TensorProto.FLOAT)
    onehot = node("Reshape", [hit, node("Shape", [bright], "bright_shape")], "onehot")
    contrast = node(
        "Sub",
        [
            node("ReduceMax", [bright], "peak", keepdims=1),
            node("ReduceMean", [bright], "mean", keepdims=1),
        ],
        "contrast",
    )
    # At the winner: contrast_gain * contrast - 2; elsewhere at least 40 lower.
    miss = node("Mul", [node("Sub", [onehot, "one"], "miss0"), "onehot_gain"], "miss")
    lifted = node("Add", [miss, node("Mul", [contrast, "contrast_gain"], "lift")], "lifted")
    return node("Add", [lifted, "logit_offset"], "logit32")


def _recognizer_model(rng: np.random.Generator) -> onnx.ModelProto:
    channels, patch = 8, 8
    features = channels * (112 // patch) ** 2
    inits = [
        _const("conv_w", rng.normal(0.0, 0.05, (channels, 3, patch, patch))),
        _const("conv_b", np.zeros(channels)),
        _const("fc_w", rng.normal(0.0, features**-0.5, (features, EMBEDDING_SIZE))),
        _const("fc_b", np.zeros(EMBEDDING_SIZE)),
    ]
    # Node names must not start with Sub/Mul: insightface would take the model for an
    # mxnet export with built-in normalization.
    nodes = [
        helper.make_node(
            "Conv",
            ["input.1", "conv_w", "conv_b"],
            ["conv"],
            name="conv_0",
            strides=[patch, patch],
            kernel_shape=[patch, patch],
        ),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu_0"),
        helper.make_node("Flatten", ["relu"], ["flat"], name="flatten_0", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc1"], name="fc_0"),
    ]
    crop = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["batch", 3, 112, 112])
    embedding = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["batch", EMBEDDING_SIZE])
    return _model(helper.make_graph(nodes, "tiny_arcface", [crop], [embedding], inits))
