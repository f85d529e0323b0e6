"""Prompt expansion with a local causal LM: a tiny random Qwen2 built in-process (loading, chat
template, caching, fallback, staleness) and the checks an answer must pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from production.expansion import expand_graph, prompts_record, stored_prompts
from flows.settings import load_settings
from production.store import submit_file, transaction
from shots import load_storyboard, plan_storyboard
from shots.expansion import check_expansion, messages
from tests.conftest import run_cli

BOARD = """\
title: Expansion
settings: {{prompt_model: {model}}}
characters:
  ana: {{description: a woman in a green coat, names: [Ana]}}
  bo: {{description: a small dog with a red collar, names: [Bo]}}
scenes:
  - id: one
    shots:
      - {{id: s1, prompt: Ana walks along the quay, characters: [ana]}}
      - {{id: s2, prompt: Bo runs after a gull, characters: [bo]}}
      - {{id: s3, prompt: The quay is empty at night}}
"""


@pytest.fixture
def board(tmp_path: Path, prompt_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORYREEL_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "film" / "storyboard.yaml"
    path.parent.mkdir()
    path.write_text(BOARD.format(model=prompt_model))
    return path


CAPTION = ("{composed} The morning light is soft and grey, and the water behind is calm. The camera follows at "
           "walking pace in one smooth take, low and steady, with the harbour wall out of focus behind.")


class Captions:
    """A stand-in model for the orchestration tests: answers each chat with a caption built from
    the composed prompt, and counts the chats it was asked."""

    def __init__(self, template: str = CAPTION) -> None:
        self.template, self.asked = template, 0

    def answer(self, chats: list[list[dict[str, str]]]) -> list[str]:
        self.asked += len(chats)
        return [self.template.format(composed=chat[1]["content"].split("\n")[0].removeprefix("Shot: ")) for chat in chats]


def test_checks_keep_descriptions_and_refuse_new_people() -> None:
    composed = "A woman in a green coat walks along the quay."
    good = CAPTION.format(composed=composed)
    assert check_expansion(composed, good, ["a woman in a green coat"], ["a small dog with a red collar", "Bo"], 512) is None
    cases = {
        "": "answered nothing",
        "A woman walks.": "fewer than the composed prompt",
        good.replace("a green coat", "a coat"): "drops the description 'a woman in a green coat'",
        good + " A small dog with a red collar barks.": "brings in 'a small dog with a red collar'",
        good + " Behind her, Marcus waves.": "adds names the prompt does not have: Marcus",
        good + " <|im_end|>": "not a caption",
        good * 12: "the video model reads 512",
    }
    for answer, needle in cases.items():
        problem = check_expansion(composed, answer, ["a woman in a green coat"], ["a small dog with a red collar", "Bo"], 512)
        assert problem is not None and needle in problem, (answer[:40], problem)
    chat = messages(composed, ["a woman in a green coat"])
    assert chat[0]["role"] == "system" and "word for word" in chat[0]["content"]
    assert '"a woman in a green coat"' in chat[1]["content"]


def test_plan_asks_the_model_once_then_reads_the_cache(board: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_cli("plan", str(board), "--json")
    assert code == 0, err
    assert "3 prompt(s) expanded now, 0 from the cache" in err
    rows = json.loads(out)
    # The random model's answer is noise: each shot falls back to its composed prompt, and says so.
    for row in rows:
        assert row["expansion"]["used"] is False and row["expansion"]["problem"]
        assert row["prompt"] == row["composed_prompt"]
    assert rows[0]["prompt"] == "A woman in a green coat walks along the quay."
    assert err.count("the prompt model's caption is not used") == 3

    import generation.expand

    def no_model(self: object) -> None:
        raise AssertionError("the model was loaded although every answer is cached")

    monkeypatch.setattr(generation.expand.PromptExpander, "__post_init__", no_model)
    code, out2, err = run_cli("plan", str(board), "--json")
    assert code == 0, err
    assert "0 prompt(s) expanded now, 3 from the cache" in err and json.loads(out2) == rows


def test_a_changed_description_asks_again_for_its_shots_only(board: Path) -> None:
    assert run_cli("plan", str(board), "--json")[0] == 0
    board.write_text(board.read_text().replace("a small dog with a red collar", "a grey dog with one ear up"))
    code, _, err = run_cli("plan", str(board), "--json")
    assert code == 0 and "1 prompt(s) expanded now, 2 from the cache" in err


def test_kept_expansions_render_and_are_stored_on_the_version(board: Path, tmp_path: Path) -> None:
    storyboard = load_storyboard(board)
    model = Captions()
    graph, report = expand_graph(storyboard, plan_storyboard(storyboard), lambda: model)
    assert (report.asked, report.cached, model.asked) == (3, 0, 3)
    s1 = graph.shot("s1").prompt
    assert s1.expanded and s1.composed == "A woman in a green coat walks along the quay."
    assert s1.prompt.startswith(s1.composed + " The morning light") and s1.tokens > 40
    again, report = expand_graph(storyboard, plan_storyboard(storyboard), lambda: Captions())
    assert (report.asked, report.cached) == (0, 3) and again.shots == graph.shots

    # A submission stores them on its version; a render of that content reads them back there.
    from storage.tracking import submit

    settings = load_settings(tmp_path / "home")
    with transaction(settings.database(create=True)) as session:
        project, _ = submit(session, "film", board, storyboard, graph, "tiny", None, prompts_record(graph))
        version = project.versions[-1]
        assert version.prompts["s1"] == {"composed": s1.composed, "prompt": s1.prompt, "problem": None}
        revision = version.content_hash
        restored = stored_prompts(session, "film", revision, plan_storyboard(storyboard))
        assert restored is not None and restored.shots == graph.shots
        assert stored_prompts(session, "film", "0" * 64, plan_storyboard(storyboard)) is None


def test_an_answer_that_drops_a_description_falls_back(board: Path) -> None:
    storyboard = load_storyboard(board)
    dropping = Captions("Someone walks somewhere by the water while the camera watches from a distance in soft light.")
    graph, _ = expand_graph(storyboard, plan_storyboard(storyboard), lambda: dropping)
    s1, s3 = graph.shot("s1").prompt, graph.shot("s3").prompt
    assert not s1.expanded and s1.prompt == s1.composed and "drops the description 'a woman in a green coat'" in s1.expansion_problem
    assert s3.expanded  # nobody to keep in an empty quay


def test_an_expansion_that_changes_makes_its_shot_stale(board: Path, tmp_path: Path) -> None:
    from storage.tracking import submit

    storyboard = load_storyboard(board)
    settings = load_settings(tmp_path / "home")
    engine = settings.database(create=True)
    first, _ = expand_graph(storyboard, plan_storyboard(storyboard), lambda: Captions())
    with transaction(engine) as session:
        submit(session, "film", board, storyboard, first, "tiny", None, prompts_record(first))
    second = first.shots[0].prompt
    import dataclasses

    changed = dataclasses.replace(first, shots=(dataclasses.replace(first.shots[0], prompt=dataclasses.replace(second, prompt=second.prompt + " Rain.")),
                                                *first.shots[1:]))
    with transaction(engine) as session:
        _, changes = submit(session, "film", board, storyboard, changed, "tiny", None, prompts_record(changed))
    state = {c.id: (c.state, c.reason) for c in changes}
    assert state["s1"] == ("stale", "prompt changed") and state["s2"][0] == "stale" and state["s3"][0] == "stale"
    assert state["s2"][1] == "upstream s1 changed"


def test_a_folder_without_a_chat_template_is_refused(tmp_path: Path, board: Path, prompt_model: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((prompt_model / "config.json").read_text())
    (bare / "tokenizer_config.json").write_text("{}")
    board.write_text(BOARD.format(model=bare))
    code, _, err = run_cli("validate", str(board))
    assert code == 2 and "has no chat template" in err
    board.write_text(BOARD.format(model=tmp_path / "missing"))
    code, _, err = run_cli("validate", str(board))
    assert code == 2 and "no config.json" in err


def test_submission_expands_with_the_real_model(board: Path, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home")
    _, _, graph, _ = submit_file(settings, board, "film")
    assert all(s.prompt.composed is not None and s.prompt.expansion_problem for s in graph.shots)
    with transaction(settings.database(create=False)) as session:
        from sqlalchemy import select

        from storage.schema import StoryboardVersion

        (stored,) = session.scalars(select(StoryboardVersion.prompts)).all()
    assert set(stored) == {"s1", "s2", "s3"} and stored["s1"]["problem"]


def captioning_model(folder: Path, answers: dict[str, tuple[list[str], str]], seed: int = 0) -> Path:
    """A real tiny Qwen2 (byte-level BPE, ChatML template) trained in-process until its
    greedy answer to each shot's chat is that shot's caption; saved like a Qwen2.5-Instruct
    folder. ``answers``: composed prompt → (descriptions to keep, caption)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from generation.builders import CHAT_TEMPLATE

    chats = [(messages(composed, keep), caption) for composed, (keep, caption) in answers.items()]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    # a byte-level BPE trained on the chats, as a Qwen2 folder has one (transformers rebuilds a
    # Qwen2 tokenizer from its vocab and merges on loading)
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    texts = [m["content"] for chat, _ in chats for m in chat] + [c for _, c in chats] + ["system user assistant"]
    core.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                            additional_special_tokens=specials, chat_template=CHAT_TEMPLATE).save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)  # trained on as the expander will read it
    vocab = tokenizer.get_vocab()
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                                         eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"], tie_word_embeddings=False))
    batch = []
    for chat, caption in chats:
        asked = tokenizer(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False), add_special_tokens=False)["input_ids"]
        said = tokenizer(caption, add_special_tokens=False)["input_ids"] + [vocab["<|im_end|>"]]
        batch.append((torch.tensor([asked + said]), torch.tensor([[-100] * len(asked) + said])))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(2000):  # until every answer token is the model's first choice by a wide margin
        outputs = [(model(input_ids=ids, labels=labels), labels) for ids, labels in batch]
        chosen = [out.logits[0, :-1].softmax(-1).gather(-1, labels[0, 1:].clamp(min=0)[:, None])[labels[0, 1:] >= 0] for out, labels in outputs]
        if all(bool((p > 0.9).all()) for p in chosen):
            break
        loss = sum(out.loss for out, _ in outputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval().save_pretrained(folder)
    return folder


COMPOSED = {"A woman in a green coat walks along the quay.": ["a woman in a green coat"],
            "A small dog with a red collar runs after a gull.": ["a small dog with a red collar"],
            "The quay is empty at night.": []}


def test_a_real_models_kept_answers_are_stored_and_a_changed_answer_makes_its_shot_stale(board: Path, tmp_path: Path) -> None:
    """Through the real expander (a trained tiny LM, greedy): the answers pass the checks, are
    kept, stored on the version and read from the cache; another model's answer for s1 makes
    s1 stale and the shots after it in its chain."""
    from sqlalchemy import select

    from storage.schema import StoryboardVersion

    morning = " The morning light is soft and grey and the water behind is calm."
    first = captioning_model(tmp_path / "lm-morning", {c: (k, c + morning) for c, k in COMPOSED.items()})
    board.write_text(BOARD.format(model=first))
    settings = load_settings(tmp_path / "home")
    _, _, graph, _ = submit_file(settings, board, "film")
    s1 = graph.shot("s1").prompt
    assert all(s.prompt.expanded for s in graph.shots), [s.prompt.expansion_problem for s in graph.shots]
    assert s1.prompt == "A woman in a green coat walks along the quay." + morning
    with transaction(settings.database()) as session:
        (stored,) = session.scalars(select(StoryboardVersion.prompts)).all()
    assert stored["s1"] == {"composed": s1.composed, "prompt": s1.prompt, "problem": None}
    code, out, err = run_cli("plan", str(board), "--json")
    assert code == 0 and "0 prompt(s) expanded now, 3 from the cache" in err, err
    assert [r["expansion"]["used"] for r in json.loads(out)] == [True, True, True]

    rain = " Rain falls on the quay and the light is grey."
    answers = {c: (k, c + (rain if c.startswith("A woman") else morning)) for c, k in COMPOSED.items()}
    board.write_text(BOARD.format(model=captioning_model(tmp_path / "lm-rain", answers)))
    _, _, graph, changes = submit_file(settings, board, "film")
    assert graph.shot("s1").prompt.prompt.endswith(rain) and graph.shot("s3").prompt.prompt.endswith(morning)
    state = {c.id: (c.state, c.reason) for c in changes}
    assert state["s1"] == ("stale", "prompt changed") and state["s2"] == ("stale", "upstream s1 changed"), state
