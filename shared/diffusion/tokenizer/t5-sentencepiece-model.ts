/**
 * Reads a sentencepiece ModelProto (spiece.model): the pieces with their scores and types, the
 * normalizer spec (including the precompiled character map) and the trainer-spec fields that
 * decide encoding (model type, byte fallback, special ids). Everything else is skipped.
 */
import { ProtobufDecodeError, WireReader, WireType } from '../../onnx/proto/wire.ts';

export const PieceType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface NormalizerSpec {
  name: string;
  /** Empty when the model was trained with the 'identity' rule. */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface TrainerSpec {
  /** 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainer: TrainerSpec;
  normalizer: NormalizerSpec;
}

export class SentencePieceModelError extends Error {
  override name = 'SentencePieceModelError';
}

// Defaults are the proto2 defaults declared in sentencepiece_model.proto.
const defaultTrainer = (): TrainerSpec => ({ modelType: 1, byteFallback: false, treatWhitespaceAsSuffix: false, unkId: 0, bosId: 1, eosId: 2, padId: -1 });
const defaultNormalizer = (): NormalizerSpec => ({
  name: '',
  precompiledCharsmap: new Uint8Array(0),
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
});

function expectWire(actual: number, expected: number, what: string, at: number): void {
  if (actual !== expected) throw new ProtobufDecodeError(`${what} has wire type ${actual}, expected ${expected} (byte ${at})`);
}

/** int32 fields are varints sign-extended to 64 bits; bring negative ids (-1 = disabled) back. */
const int32 = (v: number) => (v > 0x7fffffff ? v - 2 ** 64 : v) | 0;

function readPiece(r: WireReader): SentencePiece {
  const out: SentencePiece = { piece: '', score: 0, type: PieceType.Normal };
  while (!r.done) {
    const at = r.pos;
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, WireType.LengthDelimited, 'SentencePiece.piece', at);
      out.piece = r.string();
    } else if (field === 2) {
      expectWire(wire, WireType.Fixed32, 'SentencePiece.score', at);
      out.score = r.float32();
    } else if (field === 3) {
      expectWire(wire, WireType.Varint, 'SentencePiece.type', at);
      const type = r.varint();
      if (type < 1 || type > 6) throw new ProtobufDecodeError(`SentencePiece.type ${type} is not a known piece type (byte ${at})`);
      out.type = type as PieceType;
    } else {
      r.skip(wire, at);
    }
  }
  return out;
}

function readTrainer(r: WireReader): TrainerSpec {
  const out = defaultTrainer();
  while (!r.done) {
    const at = r.pos;
    const { field, wire } = r.tag();
    const varint = (name: string) => {
      expectWire(wire, WireType.Varint, `TrainerSpec.${name}`, at);
      return r.varint();
    };
    switch (field) {
      case 3: out.modelType = varint('model_type'); break;
      case 24: out.treatWhitespaceAsSuffix = varint('treat_whitespace_as_suffix') !== 0; break;
      case 35: out.byteFallback = varint('byte_fallback') !== 0; break;
      case 40: out.unkId = int32(varint('unk_id')); break;
      case 41: out.bosId = int32(varint('bos_id')); break;
      case 42: out.eosId = int32(varint('eos_id')); break;
      case 43: out.padId = int32(varint('pad_id')); break;
      default: r.skip(wire, at);
    }
  }
  return out;
}

function readNormalizer(r: WireReader): NormalizerSpec {
  const out = defaultNormalizer();
  while (!r.done) {
    const at = r.pos;
    const { field, wire } = r.tag();
    const flag = (name: string) => {
      expectWire(wire, WireType.Varint, `NormalizerSpec.${name}`, at);
      return r.varint() !== 0;
    };
    switch (field) {
      case 1:
        expectWire(wire, WireType.LengthDelimited, 'NormalizerSpec.name', at);
        out.name = r.string();
        break;
      case 2:
        expectWire(wire, WireType.LengthDelimited, 'NormalizerSpec.precompiled_charsmap', at);
        out.precompiledCharsmap = r.bytes();
        break;
      case 3: out.addDummyPrefix = flag('add_dummy_prefix'); break;
      case 4: out.removeExtraWhitespaces = flag('remove_extra_whitespaces'); break;
      case 5: out.escapeWhitespaces = flag('escape_whitespaces'); break;
      default: r.skip(wire, at);
    }
  }
  return out;
}

/** Parses spiece.model bytes; `file` names the source in errors. */
export function parseSentencePieceModel(buf: Uint8Array, file: string): SentencePieceModel {
  const model: SentencePieceModel = { pieces: [], trainer: defaultTrainer(), normalizer: defaultNormalizer() };
  try {
    const r = new WireReader(buf);
    while (!r.done) {
      const at = r.pos;
      const { field, wire } = r.tag();
      if (field >= 1 && field <= 3) {
        expectWire(wire, WireType.LengthDelimited, ['ModelProto.pieces', 'ModelProto.trainer_spec', 'ModelProto.normalizer_spec'][field - 1]!, at);
        const [s, e] = r.span();
        const sub = new WireReader(buf, s, e);
        if (field === 1) model.pieces.push(readPiece(sub));
        else if (field === 2) model.trainer = readTrainer(sub);
        else model.normalizer = readNormalizer(sub);
      } else {
        r.skip(wire, at);
      }
    }
  } catch (e) {
    if (e instanceof ProtobufDecodeError) throw new SentencePieceModelError(`${file} is not a sentencepiece model: ${e.message}`);
    throw e;
  }
  if (model.pieces.length === 0) throw new SentencePieceModelError(`${file} is not a sentencepiece model: it has no pieces`);
  if (model.trainer.modelType !== 1) {
    throw new SentencePieceModelError(`${file} is a sentencepiece model of type ${model.trainer.modelType}; only unigram (1) models are supported`);
  }
  return model;
}
