"""Every position scheme passes the tests `learned` passes (issue 21): padding, attention backends,
remote code, export (torch.export, ONNX), `torch.compile`, activation checkpointing and masked-LM
training, each scheme alone and with randomized positions (Ruoss et al.; test_random_positions.py
tests the positions themselves).

The models are tiny but initialised at `initializer_range=0.3`, not BERT's 0.02, so that what the
positions contribute moves the outputs far beyond the tolerances (checked first, below): at 0.02 a
scheme that ignored or misplaced its positions in an export would still pass at 1e-4.
"""

import functools

import pytest
import torch
from helpers import CHECK_SHAPES, CONFIG_ERRORS, padded_batch, tiny_config
from safetensors.torch import load_file, save_file

from posenc_hf import PosEncForMaskedLM, PosEncForSequenceClassification, PosEncModel
from posenc_hf.folder.export import dynamic_shapes
from posenc_hf.model.configuration_posenc import EVAL_POSITIONS, POSITION_EMBEDDING_TYPES
from posenc_hf.model.positions_posenc import POSITION_EMBEDDINGS

TOLERANCE = 1e-4  # outputs of one model by two routes (export, ONNX, compile, another attention backend)
MAX_POSITIONS = 32  # room for randomized positions: the longest test text has 12 tokens
RANDOMIZED = {mode: {"randomize_positions": True, "randomized_eval_positions": mode} for mode in EVAL_POSITIONS}


def variants():
    """(scheme, config changes) for each scheme alone, then with randomized positions read at sampled
    positions at evaluation. (Read at "ordered" ones, a randomized model evaluates on the plain model's
    path, 0..n-1, and trains as with "sampled": test_random_positions.py tests that.)"""
    plain = [pytest.param(kind, {}, id=kind) for kind in POSITION_EMBEDDING_TYPES]
    randomized = [
        pytest.param(kind, RANDOMIZED["sampled"], id=f"{kind}-randomized") for kind in POSITION_EMBEDDING_TYPES
    ]
    return plain + randomized


VARIANTS = variants()
# The traced routes (torch.export, ONNX, torch.compile) cost 1-3 s a model: with randomized positions they run
# for one scheme of each way of reading the drawn positions (a table row: learned; a rotation: rotary; a
# bias from a learned function of the distances, normalised by a data-dependent length: fire). The
# positions are drawn before any scheme reads them, by one function for all (random_positions_posenc), and
# every scheme's randomized model takes the eager tests here.
TRACED_RANDOMIZED = ("learned", "rotary", "fire")
TRACED_VARIANTS = [p for p in VARIANTS if not p.values[1] or p.values[0] in TRACED_RANDOMIZED]


def scheme_config(kind, changes, **overrides):
    return tiny_config(
        position_embedding_type=kind,
        initializer_range=0.3,
        max_position_embeddings=MAX_POSITIONS,
        hidden_dropout_prob=0.0,
        **changes,
        **overrides,
    )


def scheme_model(kind, changes, cls=PosEncForSequenceClassification, implementation="sdpa", seed=0, **overrides):
    """A seeded tiny model of the scheme, in eval mode."""
    torch.manual_seed(seed)
    return cls._from_config(scheme_config(kind, changes, **overrides), attn_implementation=implementation).eval()


def outputs_of(model, input_ids, mask):
    """The model's outputs by name: logits, or the encoder's hidden states and pooled vector."""
    with torch.no_grad():
        output = model(input_ids=input_ids, attention_mask=mask)
    names = ("logits",) if hasattr(output, "logits") else ("last_hidden_state", "pooler_output")
    return {name: output[name] for name in names}


def assert_same_outputs(got, expected, atol=TOLERANCE, what=""):
    for name, value in expected.items():
        torch.testing.assert_close(torch.as_tensor(got[name]), value, atol=atol, rtol=0, msg=f"{name} {what}")


def assert_matches_eager(run, model):
    for batch_size, length in CHECK_SHAPES:
        for padded in (True, False):
            input_ids, mask = padded_batch(batch_size, length, padded)
            assert_same_outputs(run(input_ids, mask), outputs_of(model, input_ids, mask), what=f"{batch_size}x{length}")


def swapped(input_ids):
    """The first two tokens of every row swapped: a change only positions can see."""
    return torch.cat([input_ids[:, 1:2], input_ids[:, :1], input_ids[:, 2:]], dim=1)


# --- the models are sensitive enough for the tolerances to mean something ------------------------


@pytest.mark.parametrize("kind, changes", VARIANTS)
def test_positions_move_the_outputs_far_beyond_the_tolerance(kind, changes):
    model = scheme_model(kind, changes)
    input_ids, mask = padded_batch(3, 8, padded=False)
    change = outputs_of(model, input_ids, mask)["logits"] - outputs_of(model, swapped(input_ids), mask)["logits"]
    if kind == "none":
        assert change.abs().max() < 1e-5  # a bag of tokens
    else:
        assert change.abs().max() > 10 * TOLERANCE


@pytest.mark.parametrize("kind", POSITION_EMBEDDING_TYPES)
def test_sampled_evaluation_positions_move_the_outputs(kind):
    input_ids, mask = padded_batch(3, 8)
    ordered = outputs_of(scheme_model(kind, RANDOMIZED["ordered"]), input_ids, mask)["logits"]
    sampled = outputs_of(scheme_model(kind, RANDOMIZED["sampled"]), input_ids, mask)["logits"]
    if kind == "none":
        torch.testing.assert_close(sampled, ordered, atol=1e-6, rtol=0)
    else:  # alibi and kerple see the distances between the sampled positions, which are not all 1
        assert (sampled - ordered).abs().max() > 10 * TOLERANCE


def test_rotary_refuses_an_odd_head_size_by_name():
    """Before, the config took it and the first forward failed inside RoPE on mismatched sizes."""
    with pytest.raises(CONFIG_ERRORS, match=r"rotary.*head size.*15 / 3 = 5"):
        tiny_config(position_embedding_type="rotary", hidden_size=15, num_attention_heads=3)
    for kind in set(POSITION_EMBEDDING_TYPES) - {"rotary"}:  # the others take any head size
        scheme_model(kind, {}, hidden_size=15, num_attention_heads=3)(torch.tensor([[1, 2, 3]]))


# --- padding and attention backends --------------------------------------------------------------


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("kind, changes", VARIANTS)
def test_a_padded_row_equals_the_row_alone(kind, changes, implementation):
    """Each row of a right-padded batch gets the logits and the hidden states it gets alone."""
    model = scheme_model(kind, changes, implementation=implementation)
    input_ids, mask = padded_batch(4, 10)
    with torch.no_grad():
        together = model(input_ids, attention_mask=mask, output_hidden_states=True)
        for row, length in enumerate(mask.sum(-1).tolist()):
            alone = model(input_ids[row : row + 1, :length], output_hidden_states=True)
            torch.testing.assert_close(together.logits[row], alone.logits[0], atol=1e-5, rtol=0)
            last = together.hidden_states[-1][row, :length]
            torch.testing.assert_close(last, alone.hidden_states[-1][0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind, changes", VARIANTS)
def test_eager_attention_equals_sdpa(kind, changes):
    eager = scheme_model(kind, changes, implementation="eager")
    sdpa = scheme_model(kind, changes, implementation="sdpa")
    sdpa.load_state_dict(eager.state_dict())
    for padded in (False, True):
        input_ids, mask = padded_batch(3, 9, padded)
        for attention_mask in (mask, None) if not padded else (mask,):
            assert_same_outputs(
                outputs_of(sdpa, input_ids, attention_mask), outputs_of(eager, input_ids, attention_mask)
            )
    with torch.no_grad():  # the weights eager returns are those SDPA uses: its output with them is SDPA's
        attentions = eager(input_ids, attention_mask=mask, output_attentions=True).attentions
    torch.testing.assert_close(attentions[0].sum(-1), torch.ones(3, 4, 9), atol=1e-5, rtol=0)
    assert attentions[0][1, :, :, 8:].abs().max() == 0  # row 1 is padded at its last token


# --- a saved folder of each scheme loads where the package is absent ----------------------------


def folder_name(kind, changes):
    return f"{kind}-randomized" if changes else kind


@pytest.mark.slow
def test_every_scheme_loads_with_trust_remote_code_where_the_package_is_absent(tmp_path, run_without_package):
    """One interpreter for all (its start costs more than the loads): each scheme, alone and read at
    sampled positions, gives the logits it gave before saving, to the bit. (test_remote_code.py loads the
    other Auto classes; they share the encoder.)"""
    input_ids, mask = padded_batch(3, 9)
    save_file({"input_ids": input_ids, "attention_mask": mask}, tmp_path / "inputs.safetensors")
    expected = {}
    for param in VARIANTS:
        kind, changes = param.values
        model = scheme_model(kind, changes)
        name = folder_name(kind, changes)  # transformers names a folder's code module after the folder
        model.save_pretrained(tmp_path / name)
        expected[name] = outputs_of(model, input_ids, mask)["logits"]

    run_without_package(f"""
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification
try:
    import posenc_hf
    raise SystemExit("posenc_hf should not be importable here")
except ImportError:
    pass
inputs = load_file("inputs.safetensors")
outputs = {{}}
for name in {sorted(expected)!r}:
    model = AutoModelForSequenceClassification.from_pretrained(name, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    with torch.no_grad():
        outputs[name] = model(**inputs).logits
save_file(outputs, "outputs.safetensors")
""")
    outputs = load_file(tmp_path / "outputs.safetensors")
    assert sorted(outputs) == sorted(expected)
    for name, logits in expected.items():
        torch.testing.assert_close(outputs[name], logits, atol=0, rtol=0, msg=name)


# --- torch.export and ONNX -----------------------------------------------------------------------


@functools.cache
def exported_program(kind, randomized_eval):
    """The scheme's encoder exported at (3, 8), padded, with dynamic batch and length (shared by the
    export and ONNX tests: exporting costs more than checking). Under `no_grad`, as `posenc-export`
    exports, and so is the ONNX conversion below: with autograd on, torch 2.13's ONNX decompositions
    refuse the graph of a learned bias (t5, fire, kerple: "Cannot view a tensor with shape ...")."""
    changes = RANDOMIZED[randomized_eval] if randomized_eval else {}
    model = scheme_model(kind, changes, cls=PosEncModel)
    input_ids, mask = padded_batch(3, 8)
    kwargs = {"input_ids": input_ids, "attention_mask": mask}
    with torch.no_grad():
        return model, torch.export.export(model, (), kwargs, dynamic_shapes=dynamic_shapes(model.config))


@pytest.mark.parametrize("kind, changes", TRACED_VARIANTS)
def test_torch_export_with_dynamic_batch_and_length(kind, changes):
    model, program = exported_program(kind, changes.get("randomized_eval_positions"))
    exported = program.module()
    assert_matches_eager(lambda ids, m: exported(input_ids=ids, attention_mask=m), model)


@pytest.mark.parametrize("kind, changes", TRACED_VARIANTS)
def test_onnx_export_runs_in_onnxruntime(kind, changes, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'posenc_hf[export]'")
    pytest.importorskip("onnxscript", reason="ONNX export needs pip install 'posenc_hf[export]'")
    model, program = exported_program(kind, changes.get("randomized_eval_positions"))
    path = tmp_path / "model.onnx"
    with torch.no_grad():  # see exported_program
        torch.onnx.export(program, (), path, dynamo=True, input_names=["input_ids", "attention_mask"])
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def run(ids, m):
        values = session.run(None, {"input_ids": ids.numpy(), "attention_mask": m.numpy()})
        return dict(zip(["last_hidden_state", "pooler_output"], values, strict=True))

    assert_matches_eager(run, model)


# --- torch.compile ---------------------------------------------------------------------------------
# Through dynamo's "eager" backend: the whole graph is captured (fullgraph: a graph break is an error)
# with symbolic batch and length, and replayed at other shapes. What the other backends add is the same
# for every scheme and costs 3-6 times as much per model: AOT tracing of the captured graph is what
# torch.export does above, inductor's code and AOT's backward graph are tested for `learned` in
# test_export.py, and AOT's random draws once more below.


@pytest.fixture
def fresh_dynamo():
    """A cleared dynamo cache per model: each new model would otherwise count towards the recompile limit."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("kind, changes", TRACED_VARIANTS)
def test_compile_fullgraph_dynamic_inference_matches_eager(kind, changes, fresh_dynamo):
    model = scheme_model(kind, changes)
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="eager")
    for padded in (True, False):
        for batch_size, length in [(3, 8), (5, 11)]:
            input_ids, mask = padded_batch(batch_size, length, padded)
            assert_same_outputs(outputs_of(compiled, input_ids, mask), outputs_of(model, input_ids, mask))


def gradients(model, run, seed=0):
    """{name: gradient} of one training step of `model` through `run` (the model, or a compiled or
    checkpointed form of it), with torch's generator seeded, so that randomized positions are drawn alike."""
    input_ids, mask = padded_batch(4, 9)
    model.zero_grad()
    torch.manual_seed(seed)
    loss = run(input_ids=input_ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 1])).loss
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def assert_same_gradients(got, expected):
    assert got.keys() == expected.keys()
    for name, gradient in expected.items():
        torch.testing.assert_close(got[name], gradient, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("kind, changes", TRACED_VARIANTS)
def test_compile_fullgraph_training_step_matches_eager_gradients(kind, changes, fresh_dynamo):
    model = scheme_model(kind, changes).train()
    expected = gradients(model, model)
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="eager")
    assert_same_gradients(gradients(model, compiled), expected)


def test_compiled_forward_and_backward_graphs_draw_the_positions_eager_draws(fresh_dynamo):
    """AOT autograd (forward and backward graphs) replaces torch's random draws with its own: the
    randomized training positions must still be those eager mode draws from the same seed."""
    model = scheme_model("learned", RANDOMIZED["sampled"]).train()
    expected = gradients(model, model)
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    assert_same_gradients(gradients(model, compiled), expected)
    assert not torch.equal(
        gradients(model, compiled, seed=1)["posenc.embeddings.position_embeddings.weight"],
        expected["posenc.embeddings.position_embeddings.weight"],
    )  # other seed, other positions


# --- activation checkpointing and masked-LM training ---------------------------------------------


@pytest.mark.parametrize("reentrant", [False, True], ids=["non-reentrant", "reentrant"])
@pytest.mark.parametrize("kind, changes", VARIANTS)
def test_activation_checkpointing_gives_the_same_gradients(kind, changes, reentrant):
    """Each layer runs again in the backward pass, with the positions of its forward pass (randomized
    ones are drawn once per forward, before the layers). Reentrant checkpointing differentiates only a
    layer's positional inputs: a learned bias (t5, fire, kerple) must be one of them."""
    model = scheme_model(kind, changes).train()
    expected = gradients(model, model)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    calls = []
    for layer in model.posenc.layers:
        layer.feed_forward.register_forward_hook(lambda *_: calls.append(1))
    assert_same_gradients(gradients(model, model), expected)
    assert len(calls) == 2 * len(model.posenc.layers)


def position_parameters(model):
    return dict(model.get_position_embeddings().named_parameters())


@pytest.mark.parametrize("kind, changes", VARIANTS)
def test_masked_lm_training_lowers_the_loss_and_trains_the_positions(kind, changes):
    model = scheme_model(kind, changes, cls=PosEncForMaskedLM)
    input_ids, mask = padded_batch(4, 10)
    labels = torch.full_like(input_ids, -100)
    labels[:, 1::3] = input_ids[:, 1::3]  # every third token, from the second, is to be predicted...
    labels[mask == 0] = -100
    masked = input_ids.masked_fill(labels != -100, 1)  # ...behind a mask token
    batch = {"input_ids": masked, "attention_mask": mask, "labels": labels}
    with torch.no_grad():
        before = model(**batch).loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(5):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None), step
        if step == 0:
            trained = {name: p.grad.abs().sum() for name, p in position_parameters(model).items()}
            assert bool(trained) == POSITION_EMBEDDINGS[kind].has_weights
            assert all(total > 0 for total in trained.values()), trained
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert model(**batch).loss < before


# --- resizing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", POSITION_EMBEDDING_TYPES)
def test_resize_keeps_what_the_scheme_learned_and_its_outputs(kind):
    """A table keeps its first rows (test_modeling tests how the rest is filled), a scheme without one
    every parameter; so the outputs stay, but FIRE's: its threshold L is `max_position_embeddings` times
    a learned scale, and grows with it."""
    model = scheme_model(kind, {})
    input_ids, mask = padded_batch(3, 8)
    logits = outputs_of(model, input_ids, mask)["logits"]
    learned = {name: value.clone() for name, value in model.get_position_embeddings().state_dict().items()}
    model.resize_position_embeddings(2 * MAX_POSITIONS)
    resized = model.get_position_embeddings().state_dict()
    assert resized.keys() == learned.keys()
    for name, value in learned.items():
        torch.testing.assert_close(resized[name][: len(value)] if value.dim() else resized[name], value, msg=name)
    same = torch.allclose(outputs_of(model, input_ids, mask)["logits"], logits, atol=1e-6, rtol=0)
    assert same == (kind != "fire")
