"""Test vectors for shared/diffusion/tokenizer/t5-tokenizer.ts: tiny sentencepiece models and reference ids.

Trains two small unigram sentencepiece models on a deterministic, generated English-ish corpus with
T5's special layout (<pad>=0, </s>=1, <unk>=2, nmt_nfkc normalization):

  testdata/t5/spiece.model          no byte fallback, as T5 ships (unknown characters -> <unk>)
  testdata/t5/bytes/spiece.model    byte_fallback=True (unknown characters -> <0xNN> pieces)

and records, for a varied prompt set, the ids that sentencepiece itself gives (sp.encode) and the
ids that transformers' T5TokenizerFast (built from spiece.model, as diffusers' SD3 pipelines load
tokenizer_3) gives with </s> appended, padding to max_length and truncation. The fast tokenizer is
also saved as fast/tokenizer.json.gz so the TypeScript side can check that it reads that file the same way.

Needs: sentencepiece, transformers 5, tokenizers.

    tools/.venv/bin/python tools/reference/t5_tokenizer_vectors.py
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import shutil
import tempfile
from pathlib import Path

import sentencepiece as spm
import tokenizers
import transformers
from transformers import T5TokenizerFast

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "shared/diffusion/tokenizer/testdata/t5"
MAX_LENGTH = 32

SUBJECTS = [
    "cat", "dog", "astronaut", "horse", "castle", "robot", "dragon", "forest", "city", "river",
    "mountain", "woman", "man", "child", "bird", "flower", "car", "ship", "house", "garden",
    "painting", "portrait", "landscape", "street", "market", "lighthouse", "owl", "fox", "tiger", "whale",
]
ADJECTIVES = [
    "red", "blue", "green", "golden", "ancient", "futuristic", "tiny", "huge", "beautiful", "dark",
    "bright", "quiet", "old", "young", "detailed", "cinematic", "soft", "sharp", "misty", "glowing",
    "colorful", "realistic", "surreal", "minimal", "rusty", "shiny", "wooden", "frozen", "sunny", "rainy",
]
VERBS = [
    "riding", "standing on", "sitting in", "flying over", "walking through", "looking at", "painted by",
    "hiding behind", "running across", "sleeping under", "dancing with", "reading", "holding",
]
PLACES = [
    "the moon", "mars", "a beach", "the city at night", "a snowy village", "an old library", "the ocean",
    "a neon street", "a quiet lake", "the desert", "a café in Paris", "the museum", "a crowded market",
]
STYLES = [
    "oil painting", "watercolor", "digital art", "photograph", "8k", "4k", "highly detailed",
    "trending on artstation", "unreal engine", "35mm", "bokeh", "studio lighting", "octane render",
    "by Claude Monet", "by Vincent van Gogh", "in the style of ukiyo-e", "low poly", "isometric",
]
EXTRAS = [
    "naïve", "façade", "crème brûlée", "résumé", "über", "jalapeño", "déjà vu", "Zürich", "São Paulo",
    "it's", "don't", "we're", "(masterpiece)", "[best quality]", "1990s", "24/7", "50%", "$100", "#1",
    "3.14", "e-mail", "state-of-the-art", "x2", "f/1.8", "iso 100", "16:9", "A.I.", "U.S.A.",
]


ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl", "qu", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z"]
NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y", "é", "ö"]
CODAS = ["", "", "n", "r", "s", "t", "ng", "ck", "ll", "nd", "st", "rk", "x"]


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS) for _ in range(rng.randint(1, 3)))


def corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    # A fixed lexicon of invented words gives the trainer enough distinct substrings for a ~1k vocab.
    lexicon = [pseudo_word(rng) for _ in range(400)]
    lines = [" ".join(rng.choice(lexicon) for _ in range(rng.randint(4, 12))) for _ in range(n // 2)]
    for _ in range(n):
        parts = [
            rng.choice(["a", "an", "the", "one", "two", "three", "some", "A", "The"]),
            rng.choice(ADJECTIVES),
            rng.choice(SUBJECTS) + rng.choice(["", "", "s"]),
            rng.choice(VERBS),
            rng.choice(PLACES),
        ]
        line = " ".join(parts)
        for _ in range(rng.randint(0, 3)):
            line += rng.choice([", ", ", ", "; ", " - ", ". "]) + rng.choice(STYLES + EXTRAS)
        if rng.random() < 0.3:
            line = line.capitalize()
        if rng.random() < 0.2:
            line += rng.choice(["!", "?", ".", "...", " :)"])
        if rng.random() < 0.15:
            line += f" {rng.randint(0, 2024)}"
        lines.append(line)
    return lines


def train(lines: list[str], vocab_size: int, byte_fallback: bool) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        normalization_rule_name="nmt_nfkc",
        character_coverage=1.0,
        byte_fallback=byte_fallback,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        num_threads=1,
        shuffle_input_sentence=False,
        seed_sentencepiece_size=20000,
        minloglevel=2,
    )
    return model.getvalue()


def write_gz(path: Path, text: str) -> None:
    # mtime=0 keeps the archive byte-identical across runs.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))


def fast_tokenizer(model: Path, config: Path) -> T5TokenizerFast:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(model, Path(tmp) / "spiece.model")
        shutil.copy(config, Path(tmp) / "tokenizer_config.json")
        return T5TokenizerFast.from_pretrained(tmp)


def prompts() -> list[str]:
    base = [
        "",
        " ",
        "   ",
        "a photo of a cat",
        "A Photo Of A Cat",
        "A PHOTO OF A CAT",
        "an astronaut riding a horse on mars, highly detailed, 8k, trending on artstation",
        "portrait of a woman, oil painting, by John Singer Sargent",
        "   leading and trailing spaces   ",
        "multiple     spaces    between     words",
        "tabs\tand\nnewlines\r\nand\r\rcarriage returns",
        "\t\ttab first",
        "newline at end\n",
        "\n\n\nonly newlines before",
        "don't stop believing",
        "it's the cat's toy, isn't it?",
        "“curly double quotes” and ‘single curly’ don’t",
        "1234567890",
        "3.14159 and 2,718 and 1e-5",
        "version 2.0.1-beta+build.42",
        "the year 1999, 24/7, 50%, $100, #1, @user",
        "a 4k ultra hd 16:9 image at f/1.8 iso 100",
        "hello, world! how are you? fine... thanks!!!",
        "punctuation: ; : , . ! ? - -- --- ( ) [ ] { } < > / \\ | ` ~ ^ * & % $ # @ +=",
        "...!!!???",
        "((masterpiece)), [[best quality]], {{ultra detailed}}",
        "(cat:1.2), (dog:0.8), <lora:style:0.7>",
        "a_snake_case_prompt and kebab-case-words and camelCaseWords",
        "email me at someone@example.com or visit https://example.org/path?q=1&r=2",
        "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e na\u00efve fa\u00e7ade",
        "cafe\u0301 with a combining accent",
        "e\u0301e\u0300e\u0302 o\u0308 n\u0303",
        "\u00c9COLE \u00dcBER STRA\u00dfE \u00c5NGSTR\u00d6M",
        "Stra\u00dfe in M\u00fcnchen, Z\u00fcrich, S\u00e3o Paulo",
        "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u6f22\u5b57",
        "\u4e2d\u6587\u63d0\u793a\u8bcd\uff1a\u4e00\u53ea\u732b",
        "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4",
        "\u1100\u1161\u11a8 conjoining jamo",
        "\u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
        "\u0395\u039b\u039b\u0397\u039d\u0399\u039a\u0391 \u03bf\u03b4\u03cc\u03c2",
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0646\u0635",
        "\u0939\u093f\u0928\u094d\u0926\u0940 \u092a\u093e\u0920",
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
        "emoji \U0001f600\U0001f602\U0001f60d \U0001f408 \U0001f436",
        "\U0001f525\U0001f525\U0001f525 fire",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 zwj sequence",
        "flags \U0001f1fa\U0001f1f8 \U0001f1ef\U0001f1f5",
        "skin tones \U0001f44d\U0001f3fb \U0001f44d\U0001f3ff",
        "heart \u2764\ufe0f and star \u2b50 and check \u2714",
        "math \u2211 \u222b \u221e \u2248 \u2260 \u00b1 \u00d7 \u00f7 \u221a\u03c0",
        "currency \u20ac100 \u00a350 \u00a5300 \u20b9",
        "superscripts x\u00b2 y\u00b3 and fractions \u00bd \u00be \u2153",
        "roman numerals \u2160 \u2161 \u2162 \u216b and circled \u2460 \u2461 \u2473",
        "fullwidth \uff21\uff22\uff23\uff11\uff12\uff13\uff01 and ideographic\u3000space",
        "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48\u3000\uff43\uff41\uff54",
        "\uff21\u0301 fullwidth A with combining acute",
        "halfwidth katakana \uff76\uff80\uff76\uff85 \uff8a\uff9e",
        "ligatures \ufb01ne \ufb02ow \ufb00 \ufb03 \ufb04 and \u0133",
        "em\u2014dash and en\u2013dash and ellipsis\u2026",
        "non\u00a0breaking\u00a0space and thin\u2009space and narrow\u202fspace",
        "zero\u200bwidth\u200bspace and soft\u00adhyphen",
        "bom\ufeffinside and control\x07bell\x1bchars\x00nul",
        "next\u0085line and line\u2028separator and para\u2029graph",
        "vertical\x0btab and form\x0cfeed",
        "ogham\u1680space and en\u2002quad em\u2003space",
        "</s> at the start",
        "a </s> in the middle and at the end </s>",
        "<pad><unk></s>",
        "glued</s>token",
        "<extra_id_0> sentinel <extra_id_99> and <extra_id_100>",
        "<s> bos-like text </S>",
        "\u2581already\u2581metaspaced \u2581 words",
        "\u2581\u2581double",
        "a" * 100,
        "ab" * 60,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "x",
        "!",
        "'",
        "9",
        "\u00e9",
        "\U0001f600",
        "\u3000",
        "hyphen-ated well-known state-of-the-art",
        "slash/separated/words and back\\slashes",
        "under_score __dunder__ ___triple___",
        "#hashtag #AI #photography",
        "mixed123numbers456and789letters",
        "IPv4 192.168.0.1 and IPv6 ::1",
        "-42 +7 \u221213",
        "temperature 37\u00b0C or 98.6\u2109 and 5\u2103",
        "\u2122 \u00a9 \u00ae \u2120 \u2116 \u33a1 \u3392",
        "\u2474 \u2488 \u24b6 \u24d0 \U0001f130",
        "\u00bfQu\u00e9 tal? \u00a1Muy bien!",
        "\u00c0 bient\u00f4t, \u00e7a va tr\u00e8s bien",
        "Vi\u1ec7t Nam ti\u1ebfng Vi\u1ec7t",
        "T\u00fcrk\u00e7e \u0130stanbul \u0131\u015f\u0131k",
        "Polski \u0141\u00f3d\u017a \u017b\u00f3\u0142w",
        "music \u266a \u266b and chess \u265a \u265b",
        "box drawing \u2500\u2502\u250c\u2510 and blocks \u2588\u2593\u2592\u2591",
        "kaomoji (\u256f\u00b0\u25a1\u00b0)\u256f\ufe35 \u253b\u2501\u253b",
        "shrug \u00af\\_(\u30c4)_/\u00af",
        "lenny ( \u0361\u00b0 \u035c\u0296 \u0361\u00b0)",
        "private use \ue000 and replacement \ufffd",
        "astral math \U0001d400\U0001d401 and \U0001d7ce\U0001d7cf",
        "ancient \U00010330\U00010331 gothic letters",
        "hangul compat \u3131\u314f and \u3200 \u3260",
        "cjk compat \uf900 \uf901 and \u2f00 \u2f01 radicals",
        "a photograph of an astronaut riding a horse",
        "cyberpunk city at night, neon lights, rain, reflections, cinematic lighting, 35mm",
        "a red cube on top of a blue sphere next to a green cylinder",
        "The Quick Brown Fox Jumps Over The Lazy Dog",
        "tHiS iS sPoNgEbOb CaSe",
        "\"double quoted\" and 'single quoted'",
        "repeated!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    ]
    long_ones = [
        ", ".join(["masterpiece", "best quality", "ultra detailed", "8k", "photorealistic"] * 3),
        " ".join(f"word{i}" for i in range(40)),
        " ".join(str(i) for i in range(40)),
        "a very long prompt describing " + "a beautiful landscape with mountains and rivers and forests " * 4,
        "\U0001f600 " * 40,
        "x " * (MAX_LENGTH - 2),
        "x " * (MAX_LENGTH - 1),
        "x " * MAX_LENGTH,
        "x " * (MAX_LENGTH + 1),
    ]
    variants = []
    for p in base[3:40]:
        variants.append(p.upper())
        variants.append("  " + p.replace(" ", "\t  ") + " \n")
    out = base + long_ones + variants
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    assert transformers.__version__.split(".")[0] == "5", "vectors record transformers 5's T5Tokenizer pipeline"

    lines = corpus(600, seed=1234)
    model = train(lines, 800, byte_fallback=False)
    model_bytes = train(lines, 600, byte_fallback=True)

    out = args.out
    (out / "bytes").mkdir(parents=True, exist_ok=True)
    (out / "spiece.model").write_bytes(model)
    (out / "bytes" / "spiece.model").write_bytes(model_bytes)
    config = {"model_max_length": MAX_LENGTH, "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": 100}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    sp = spm.SentencePieceProcessor(model_proto=model)
    sp_bytes = spm.SentencePieceProcessor(model_proto=model_bytes)
    tok = fast_tokenizer(out / "spiece.model", out / "tokenizer_config.json")
    tok_bytes = fast_tokenizer(out / "bytes" / "spiece.model", out / "tokenizer_config.json")
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        tokenizer_json = json.loads((Path(tmp) / "tokenizer.json").read_text(encoding="utf-8"))
    # Keep only what a T5 tokenizer.json needs to be read (padding/truncation/decoder are unused).
    tokenizer_json = {k: tokenizer_json[k] for k in ("added_tokens", "normalizer", "pre_tokenizer", "model")}
    (out / "fast").mkdir(exist_ok=True)
    write_gz(out / "fast" / "tokenizer.json.gz", json.dumps(tokenizer_json, ensure_ascii=False))

    assert tok.eos_token_id == 1 and tok.pad_token_id == 0 and tok.unk_token_id == 2, "T5 special ids"
    cases = []
    for text in prompts():
        padded = tok(text, padding="max_length", max_length=MAX_LENGTH, truncation=True)
        cases.append({
            "text": text,
            "sp": sp.encode(text),
            "spBytes": sp_bytes.encode(text),
            "fast": tok(text)["input_ids"],
            "fastBytes": tok_bytes(text)["input_ids"],
            "ids": padded["input_ids"],
            "mask": padded["attention_mask"],
        })

    doc = {
        "source": (
            f"sentencepiece {spm.__version__}; transformers {transformers.__version__} T5TokenizerFast "
            f"(tokenizers {tokenizers.__version__}) built from spiece.model"
        ),
        "maxLength": MAX_LENGTH,
        "vocabSize": sp.get_piece_size(),
        "fastVocabSize": len(tok),
        "cases": cases,
    }
    (out / "prompts.json").write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(cases)} prompts; vocab {sp.get_piece_size()} (+{len(tok) - sp.get_piece_size()} added); files in {out}")


if __name__ == "__main__":
    main()
