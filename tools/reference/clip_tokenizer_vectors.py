"""Test vectors for shared/diffusion/tokenizer: the real CLIP BPE files and reference token ids.

Derives Hugging Face's vocab.json + merges.txt from open_clip's bundled bpe_simple_vocab_16e6.txt.gz
(256 byte symbols, the same with '</w>', one entry per merge, then the two specials: 49408 entries)
and records the ids that transformers' slow, pure-Python CLIPTokenizer (transformers 4.x, with ftfy
installed, as Stable Diffusion pipelines call it) gives for a varied set of prompts.

Needs: transformers<5 (5.x only ships the tokenizers-backed class), ftfy, regex, and open_clip_torch
(only its data file is read; torch is not imported).

    python tools/reference/clip_tokenizer_vectors.py
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import tempfile
from pathlib import Path

import transformers
from transformers import CLIPTokenizer

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "shared/diffusion/tokenizer/testdata"
MERGE_COUNT = 49152 - 256 - 2


def bytes_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes)}


def derive_vocab(bpe_gz: Path) -> tuple[dict[str, int], list[str]]:
    lines = gzip.decompress(bpe_gz.read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGE_COUNT + 1]]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == 49408, len(tokens)
    return {t: i for i, t in enumerate(tokens)}, [" ".join(m) for m in merges]


def write_gz(path: Path, text: str) -> None:
    # mtime=0 keeps the archive byte-identical across runs.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))


def prompts() -> list[str]:
    base = [
        "a photo of a cat",
        "A Photo Of A Cat",
        "A PHOTO OF A CAT",
        "an astronaut riding a horse on mars, highly detailed, 8k, trending on artstation",
        "portrait of a woman, oil painting, by John Singer Sargent",
        "",
        " ",
        "   leading and trailing spaces   ",
        "tabs\tand\nnewlines\r\nand\r\rcarriage returns",
        "multiple     spaces    between     words",
        "don't stop believing",
        "it's the cat's toy, isn't it?",
        "we're here, they've gone, I'm fine, you'll see, he'd know",
        "DON'T SHOUT, IT'S LOUD",
        "o'clock rock'n'roll y'all",
        "'s 't 're 've 'm 'll 'd",
        "quote's at the 'end'",
        "“curly double quotes” and ‘single curly’ don’t",
        "1234567890",
        "3.14159 and 2,718 and 1e-5",
        "version 2.0.1-beta+build.42",
        "the year 1999, 24/7, 50%, $100, #1, @user",
        "1st 2nd 3rd 4th 21st 100th",
        "a 4k ultra hd 16:9 image at f/1.8 iso 100",
        "hello, world! how are you? fine... thanks!!!",
        "punctuation: ; : , . ! ? - -- --- ( ) [ ] { } < > / \\ | ` ~ ^ * & % $ # @ +=",
        "...!!!???",
        "((masterpiece)), [[best quality]], {{ultra detailed}}",
        "(cat:1.2), (dog:0.8), <lora:style:0.7>",
        "a_snake_case_prompt and kebab-case-words and camelCaseWords",
        "email me at someone@example.com or visit https://example.org/path?q=1&r=2",
        "C++ and C# and F# and .NET",
        "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e na\u00efve fa\u00e7ade",
        "cafe\u0301 with a combining accent (NFC should compose it)",
        "\u00c9COLE \u00dcBER STRA\u00dfE \u00c5NGSTR\u00d6M",
        "Stra\u00dfe in M\u00fcnchen",
        "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u6f22\u5b57",
        "\u4e2d\u6587\u63d0\u793a\u8bcd\uff1a\u4e00\u53ea\u732b",
        "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4",
        "\u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442 \u041f\u0420\u0418\u0412\u0415\u0422",
        "\u0395\u039b\u039b\u0397\u039d\u0399\u039a\u0391 \u039f\u0394\u039f\u03a3 \u03bf\u03b4\u03cc\u03c2",
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0646\u0635",
        "\u05e2\u05d1\u05e8\u05d9\u05ea \u05d8\u05e7\u05e1\u05d8",
        "\u0939\u093f\u0928\u094d\u0926\u0940 \u092a\u093e\u0920",
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
        "emoji \U0001f600\U0001f602\U0001f60d \U0001f408 \U0001f436",
        "\U0001f525\U0001f525\U0001f525 fire",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 zwj sequence",
        "flags \U0001f1fa\U0001f1f8 \U0001f1ef\U0001f1f5 \U0001f1e9\U0001f1ea",
        "skin tones \U0001f44d\U0001f3fb \U0001f44d\U0001f3ff",
        "heart \u2764\ufe0f and star \u2b50 and check \u2714",
        "math \u2211 \u222b \u221e \u2248 \u2260 \u00b1 \u00d7 \u00f7 \u221a\u03c0",
        "arrows \u2192 \u2190 \u2191 \u2193 \u21d2",
        "currency \u20ac100 \u00a350 \u00a5300 \u20b9 \u20bf",
        "superscripts x\u00b2 y\u00b3 and fractions \u00bd \u00be",
        "roman numerals \u2160 \u2161 \u2162 and circled \u2460 \u2461",
        "arabic-indic digits \u0661\u0662\u0663 and devanagari \u0967\u0968\u0969",
        "fullwidth \uff21\uff22\uff23\uff11\uff12\uff13\uff01 and ideographic\u3000space",
        "halfwidth katakana \uff76\uff80\uff76\uff85",
        "ligatures \ufb01ne \ufb02ow \ufb00 \ufb03 \ufb04 and \u0133",
        "em\u2014dash and en\u2013dash and ellipsis\u2026",
        "non\u00a0breaking\u00a0space and thin\u2009space",
        "zero\u200bwidth\u200bspace and soft\u00adhyphen",
        "bom\ufeffinside and control\x07bell\x1bchars",
        "<|startoftext|>already wrapped<|endoftext|>",
        "a <|endoftext|> in the middle",
        "<|ENDOFTEXT|> uppercase special",
        "pipes | and <angles> and <|not special|>",
        "a" * 100,
        "ab" * 60,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
        "hippopotomonstrosesquippedaliophobia floccinaucinihilipilification",
        "x",
        "!",
        "'",
        "9",
        "\u00e9",
        "\U0001f600",
        "hyphen-ated well-known state-of-the-art",
        "slash/separated/words and back\\slashes",
        "under_score __dunder__ ___triple___",
        "a,b,c,d,e,f,g",
        "dots.between.words",
        "#hashtag #AI #photography",
        "trailing punctuation!",
        "mixed123numbers456and789letters",
        "abc123def 1a2b3c",
        "IPv4 192.168.0.1 and IPv6 ::1",
        "0.000001 and 1,000,000",
        "-42 +7 \u221213",
        "temperature 37\u00b0C or 98.6\u00b0F",
        "a photograph of an astronaut riding a horse",
        "cyberpunk city at night, neon lights, rain, reflections, cinematic lighting, 35mm",
        "studio ghibli style landscape, lush green hills, blue sky, fluffy clouds",
        "macro shot of a dewdrop on a leaf, bokeh, shallow depth of field",
        "a red cube on top of a blue sphere next to a green cylinder",
        "low poly 3d render of a fox, isometric, pastel colors",
        "ukiyo-e woodblock print of mount fuji with cherry blossoms",
        "hyperrealistic, photorealistic, unreal engine 5, octane render, ray tracing",
        "negative prompt: blurry, lowres, bad anatomy, bad hands, text, error, missing fingers",
        "The Quick Brown Fox Jumps Over The Lazy Dog",
        "tHiS iS sPoNgEbOb CaSe",
        "I", "I'M", "WE'VE", "THEY'LL", "SHE'D", "YOU'RE",
        "rock 'n' roll",
        "\"double quoted\" and 'single quoted'",
        "backtick `code` and ~tilde~ and ^caret^",
        "repeated!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "newline at end\n",
        "\n\n\nonly newlines before",
        "mixed\u3000ideographic\u3000spaces",
        "ALL CAPS WITH NUMBERS 2024 AND SYMBOLS @#$",
        "\u00bfQu\u00e9 tal? \u00a1Muy bien!",
        "\u00c0 bient\u00f4t, \u00e7a va tr\u00e8s bien",
        "Vi\u1ec7t Nam ti\u1ebfng Vi\u1ec7t",
        "T\u00fcrk\u00e7e \u0130stanbul \u0131\u015f\u0131k",
        "Dansk \u00c6\u00d8\u00c5 \u00e6\u00f8\u00e5",
        "Polski \u0141\u00f3d\u017a \u017b\u00f3\u0142w",
        "\u010ce\u0161tina \u0159\u00ed\u010dn\u00ed",
        "\u00f1and\u00fa and \u00d1AND\u00da",
        "music \u266a \u266b \u266c and chess \u265a \u265b",
        "box drawing \u2500\u2502\u250c\u2510 and blocks \u2588\u2593\u2592\u2591",
        "kaomoji (\u256f\u00b0\u25a1\u00b0)\u256f\ufe35 \u253b\u2501\u253b",
        "shrug \u00af\\_(\u30c4)_/\u00af",
        "lenny ( \u0361\u00b0 \u035c\u0296 \u0361\u00b0)",
        "private use \ue000 and replacement \ufffd",
        "astral math \U0001d400\U0001d401 and \U0001d7ce\U0001d7cf",
        "ancient \U00010330\U00010331 gothic letters",
        "tags \U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f england",
    ]
    long_ones = [
        ", ".join(["masterpiece", "best quality", "ultra detailed", "8k", "photorealistic"] * 6),
        " ".join(f"word{i}" for i in range(80)),
        " ".join(str(i) for i in range(100)),
        "a very long prompt describing " + "a beautiful landscape with mountains and rivers and forests " * 8,
        "\U0001f600" * 40,
        "!" * 200,
        "\u65e5\u672c" * 50,
        " ".join(["don't"] * 40),
        "x " * 76,
        "x " * 75,
        "x " * 74,
        "y " * 73,
    ]
    variants = []
    for p in base[:40]:
        variants.append(p.upper())
        variants.append("  " + p.replace(" ", "\t ") + "\n")
    out = base + long_ones + variants
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    assert transformers.__version__.split(".")[0] == "4", "needs transformers 4.x for the slow CLIPTokenizer"
    spec = importlib.util.find_spec("open_clip")
    assert spec and spec.submodule_search_locations, "open_clip_torch is not installed"
    bpe_gz = Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"
    vocab, merges = derive_vocab(bpe_gz)

    folder = args.out / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    vocab_text = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    merges_text = "#version: 0.2\n" + "\n".join(merges) + "\n"
    write_gz(folder / "vocab.json.gz", vocab_text)
    write_gz(folder / "merges.txt.gz", merges_text)

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.json").write_text(vocab_text, encoding="utf-8")
        (Path(tmp) / "merges.txt").write_text(merges_text, encoding="utf-8")
        tok = CLIPTokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "merges.txt"))
        assert tok.fix_text is not None, "ftfy must be installed: SD pipelines clean prompts with it"
        cases = []
        for text in prompts():
            padded = tok(text, padding="max_length", max_length=77, truncation=True)
            full = tok(text)["input_ids"]
            cases.append({"text": text, "ids": padded["input_ids"], "mask": padded["attention_mask"], "full": full})
        tok_bang = CLIPTokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "merges.txt"), pad_token="!")
        bang = []
        for text in ["a photo of a cat", "", "x " * 80, "emoji \U0001f600 and caf\u00e9"]:
            enc = tok_bang(text, padding="max_length", max_length=77, truncation=True)
            bang.append({"text": text, "ids": enc["input_ids"], "mask": enc["attention_mask"]})

    doc = {
        "source": f"transformers {transformers.__version__} CLIPTokenizer (slow) with ftfy, vocab from open_clip bpe_simple_vocab_16e6",
        "maxLength": 77,
        "cases": cases,
        "padBang": bang,
    }
    (args.out / "clip-prompts.json").write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(cases)} prompts; files in {args.out}")


if __name__ == "__main__":
    main()
