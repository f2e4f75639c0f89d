// Builds the small tokenizer.json fixtures of tests/data/tokenizer_json/ and records what HF's
// Rust `tokenizers` library (its npm binding, the library PreTrainedTokenizerFast runs) returns
// for a set of texts and pairs: ids, tokens, offsets, type ids, special-tokens mask, decode.
//
//   mkdir -p /tmp/tjs && (cd /tmp/tjs && npm install tokenizers@0.23.2)
//   TOKENIZERS_PATH=/tmp/tjs/node_modules/tokenizers node scripts/make_tokenizer_json_cases.mjs
//
// Where Python transformers differs from calling the Rust library directly, the expected values
// are derived here by hand and the case says so ("derived"): PreTrainedTokenizerFast treats an
// empty text_pair as no pair (`[(text, text_pair)] if text_pair else [text]`), so such a case
// expects the single-text encoding. (transformers.js is not the reference: it truncates the
// finished sequence and loses the final [SEP]; Python hands truncation to the Rust library.)
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';

const require = createRequire(import.meta.url);
const { Tokenizer } = require(process.env.TOKENIZERS_PATH || 'tokenizers');
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'tests', 'data', 'tokenizer_json');

const added = (id, content, extra = {}) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra,
});
const template = (cls, sep, ids) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
  pair: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } },
    { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: sep, type_id: 1 } }],
  special_tokens: { [cls]: { id: cls, ids: [ids[0]], tokens: [cls] }, [sep]: { id: sep, ids: [ids[1]], tokens: [sep] } },
});

// BPE merges that build each word left to right (w0 w1, w0w1 w2, ...), added to vocab.
function chain_merges(words, vocab, prefix = '') {
  const merges = [];
  for (const w of words) {
    const chars = [...w];
    let cur = chars[0];
    for (let i = 1; i < chars.length; ++i) {
      const next = cur + chars[i];
      if (!(next in vocab)) {
        vocab[next] = Object.keys(vocab).length;
        merges.push(`${cur} ${prefix}${chars[i]}`);
      }
      cur = next;
    }
  }
  return merges;
}

// --- GENA-LM-like DNA BPE: Sequence[Strip, Replace N{10,} -> "-"], Split, BPE, [CLS]/[SEP].
function gena() {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const vocab = {};
  specials.forEach((s) => { vocab[s] = Object.keys(vocab).length; });
  for (const c of 'ACGTN-') vocab[c] = Object.keys(vocab).length;
  const merges = chain_merges(['ACGT', 'GGCC', 'TTAA', 'ACGTACGT', 'AAAA', 'CC', 'NN'], vocab);
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s, i) => added(i, s, s === '[MASK]' ? { lstrip: true } : {})),
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'Strip', strip_left: true, strip_right: true },
      { type: 'Replace', pattern: { Regex: 'N{10,}' }, content: '-' }] },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '-+' }, behavior: 'Isolated', invert: false },
    post_processor: template('[CLS]', '[SEP]', [2, 3]),
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: false, vocab, merges },
  };
}

// --- BERT-like WordPiece: NFKC + Lowercase, BertPreTokenizer, BertProcessing, WordPiece decoder.
function bert() {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const vocab = {};
  specials.forEach((s) => { vocab[s] = Object.keys(vocab).length; });
  for (const w of ['the', 'capital', 'of', 'france', 'is', 'paris', 'un', '##able', '##aff', '##able', 'fi', 'sh', '##ing',
    '.', ',', '!', "'", 's', 'a', 'b', 'c', 'x', '##s', '##x', '2', 'é'])
    if (!(w in vocab)) vocab[w] = Object.keys(vocab).length;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s, i) => added(i, s)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

// --- RoBERTa-like byte-level BPE.
function roberta() {
  const specials = ['<s>', '<pad>', '</s>', '<unk>'];
  const vocab = {};
  specials.forEach((s) => { vocab[s] = Object.keys(vocab).length; });
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  let n = 0;
  const chars = [];
  for (let b = 0; b < 256; ++b) chars.push(bs.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++));
  for (const c of chars) vocab[c] = Object.keys(vocab).length;
  const merges = chain_merges(['Ġhello', 'hello', 'Ġworld', 'Ġthe', 'Ġcafé'.replace('é', 'Ã©'), 'ĠĠ'], vocab);
  vocab['<mask>'] = Object.keys(vocab).length;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [...specials.map((s, i) => added(i, s)), added(vocab['<mask>'], '<mask>', { lstrip: true })],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

// --- Unigram + Metaspace (T5/Pegasus-like): $A </s> / $A </s> $B </s>.
function unigram() {
  const pieces = [['<unk>', 0], ['<pad>', 0], ['</s>', 0], ['▁', -2], ['▁the', -3], ['▁cat', -4], ['▁ca', -5], ['t', -5],
    ['▁sat', -4.5], ['s', -6], ['a', -6], ['c', -6], ['e', -6], ['h', -6], ['▁s', -5], ['at', -4], ['▁on', -4],
    ['o', -6], ['n', -6], ['m', -6], ['▁mat', -4.2], ['.', -3], ['fi', -5], ['f', -7], ['i', -7]];
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<pad>'), added(2, '</s>')],
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false },
  };
}

// --- Character-level WordPiece (c / ##c) whose ids show where a pre-tokenizer cut: the first
// character of each word is "c", the others "##c". For the pre-tokenizer and normalizer cases.
function chars_wp(pre_tokenizer, normalizer = null) {
  const vocab = { '[UNK]': 0 };
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,!?\'▁#xé€İi̇') {
    if (!(c in vocab)) vocab[c] = Object.keys(vocab).length;
    if (!(`##${c}` in vocab)) vocab[`##${c}`] = Object.keys(vocab).length;
  }
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: [added(0, '[UNK]')],
    normalizer, pre_tokenizer, post_processor: null, decoder: null,
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

// --- Llama-like: Prepend + Replace normalizer, no pre-tokenizer, BPE with byte_fallback and
// fuse_unk; decoder Sequence[Replace, ByteFallback, Fuse, Strip].
function llama() {
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; ++b) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = Object.keys(vocab).length;
  for (const c of '▁helowrdabc') if (!(c in vocab)) vocab[c] = Object.keys(vocab).length;
  const merges = chain_merges(['▁hello', '▁world', 'lo'], vocab);
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' },
      { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' },
      { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, vocab, merges },
  };
}

// --- BPE with continuing_subword_prefix and end_of_word_suffix, BPEDecoder, WhitespaceSplit.
function suffix_bpe() {
  const vocab = { '<unk>': 0 };
  for (const c of 'lowerstn') {
    vocab[c] = Object.keys(vocab).length;
    vocab[`##${c}`] = Object.keys(vocab).length;
    vocab[`${c}</w>`] = Object.keys(vocab).length;
    vocab[`##${c}</w>`] = Object.keys(vocab).length;
  }
  const merges = [];
  const merge = (a, b, m) => { if (!(m in vocab)) vocab[m] = Object.keys(vocab).length; merges.push(`${a} ${b}`); };
  merge('l', '##o', 'lo');
  merge('lo', '##w', 'low');
  merge('##e', '##r</w>', '##er</w>');
  merge('low', '##er</w>', 'lower</w>');
  merge('##s', '##t</w>', '##st</w>');
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: [added(0, '<unk>')],
    normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null,
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: '##', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

const dna = 'ACGTACGTGGCCTTAAACGTAAAACCGGTTACGTNNNN';
const cases = {
  gena: {
    json: gena(),
    config: { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: 512 },
    special: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
    inputs: [
      { text: 'ACGTACGTGGCC' }, { text: '  ACGTTTAA\n' }, { text: 'ACGTNNNNNNNNNNNNNNGGCC' }, { text: 'ACGTNNNNNNNNNGG' },
      { text: 'acgtXYACGT' }, { text: 'ACGT [MASK]GGCC' }, { text: 'NNNNNNNNNNNN-ACGT' }, { text: '' },
      { text: 'ACGTAC', pair: 'GGCCTT' }, { text: 'ACGT', pair: '' },
      { text: dna, max_length: 8 }, { text: dna, pair: 'GGCCTTAACC', max_length: 9 },
      { text: dna, pair: 'GGCCTTAACC', max_length: 10 }, { text: 'ACGT', pair: dna, max_length: 9 },
      { text: dna, pair: 'GG', max_length: 8, truncation: 'only_first' },
      { text: 'GG', pair: dna, max_length: 8, truncation: 'only_second' },
      { text: 'ACGTGGCC', pair: 'TTAA', add_special_tokens: false },
      // max_length below the number of special tokens: nothing is truncated (Rust's usize
      // `max_length - n_added_tokens` wraps around); equal to it: only the special tokens stay.
      { text: 'ACGT', max_length: 1 }, { text: 'ACGTGG', max_length: 2 }, { text: 'ACGTGG', pair: 'GG', max_length: 2 },
      { text: 'ACGTGG', pair: 'GG', max_length: 3 }, { text: dna, pair: 'GGCCTTAACC', max_length: 6, add_special_tokens: false },
    ],
  },
  bert: {
    json: bert(),
    config: { tokenizer_class: 'BertTokenizerFast', model_max_length: 128 },
    special: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
    inputs: [
      { text: 'The capital of France is Paris.' }, { text: 'Unaffable fishing!' }, { text: 'ﬁsh, Café x² s' },
      { text: "Paris's [MASK] is the capital." }, { text: 'The capital', pair: 'of France' },
      { text: 'the capital of france is paris', pair: 'paris is the capital of france', max_length: 11 },
    ],
  },
  roberta: {
    json: roberta(),
    config: { tokenizer_class: 'RobertaTokenizerFast', model_max_length: 64 },
    special: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', sep_token: '</s>', pad_token: '<pad>', cls_token: '<s>', mask_token: '<mask>' },
    inputs: [
      { text: 'hello world' }, { text: ' hello  the café!' }, { text: 'hello <mask> world' }, { text: 'hello', pair: 'world hello' },
      { text: 'naïve 日本 😀' },
    ],
  },
  unigram: {
    json: unigram(),
    config: { tokenizer_class: 'T5TokenizerFast', model_max_length: 32 },
    special: { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' },
    inputs: [
      { text: 'the cat sat on the mat.' }, { text: 'The cat' }, { text: 'ﬁt mats' }, { text: '  the   cat ' },
      { text: 'the cat', pair: 'sat on' }, { text: 'the cat sat on the mat', pair: 'the mat', max_length: 7 },
    ],
  },
};

cases.llama = {
  json: llama(), config: { tokenizer_class: 'LlamaTokenizerFast', model_max_length: 64 },
  special: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' },
  inputs: [{ text: 'hello world' }, { text: 'hello wörld ☃' }, { text: 'abc  hello' }, { text: 'hello', pair: 'world' }],
};
cases.suffix_bpe = { json: suffix_bpe(), inputs: [{ text: 'lower lowest  newer' }, { text: 'slow xlow' }] };
// BERT's own normalizer (clean text, CJK padding, accents stripped with lowercase) and NFD+StripAccents.
cases.bert_normalizer = {
  json: { ...bert(), normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true } },
  config: { tokenizer_class: 'BertTokenizerFast', model_max_length: 128 },
  special: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  inputs: [{ text: 'Café\u0000 PARIS\u200b is\tthe 中国 capital.' }, { text: 'Cafe\u0301 ﬁsh' }],
};
cases.strip_accents = {
  json: chars_wp({ type: 'WhitespaceSplit' }, { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] }),
  inputs: [{ text: 'Café naïve e\u0301' }],
};
cases.nfc = { json: chars_wp({ type: 'WhitespaceSplit' }, { type: 'NFC' }), inputs: [{ text: 'ae\u0301x e\u0301 \u212b' }] };
const split_texts = [{ text: 'ab--cd-e' }, { text: '-ab--' }, { text: 'abc' }, { text: '--' }];
for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'])
  for (const invert of [false, true])
    cases[`split_${behavior}${invert ? '_invert' : ''}`] = {
      json: chars_wp({ type: 'Split', pattern: { String: '-' }, behavior, invert }), inputs: split_texts,
    };
const words = [{ text: 'Hello, world!  it\'s 2 x' }, { text: ' a  b\tc ' }, { text: 'x-y_z é€' }];
cases.whitespace = { json: chars_wp({ type: 'Whitespace' }), inputs: words };
cases.whitespace_split = { json: chars_wp({ type: 'WhitespaceSplit' }), inputs: words };
cases.metaspace_first = {
  json: chars_wp({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }), inputs: words,
};
cases.sequence_pre = {
  json: chars_wp({ type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' },
    { type: 'Split', pattern: { Regex: '[0-9]+' }, behavior: 'Isolated', invert: false }] }),
  inputs: [{ text: 'ab12cd 3e' }],
};
cases.normalizers = {
  json: chars_wp({ type: 'WhitespaceSplit' }, { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { String: 'xx' }, content: '#' }, { type: 'Lowercase' },
    { type: 'Strip', strip_left: false, strip_right: true }, { type: 'Prepend', prepend: '_' }] }),
  inputs: [{ text: 'AxxB CxxxD İ  ' }, { text: '  Ab' }],
};

for (const [name, c] of Object.entries(cases)) {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(c.json));
  if (c.config) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(c.config));
  if (c.special) fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(c.special));
}

const out = {};
for (const [name, c] of Object.entries(cases)) {
  const tok = Tokenizer.fromString(JSON.stringify(c.json));
  out[name] = [];
  for (const input of c.inputs) {
    const strategy = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' }[input.truncation || 'longest_first'];
    if (input.max_length !== undefined) tok.setTruncation(input.max_length, { strategy });
    else tok.disableTruncation();
    const add_special_tokens = input.add_special_tokens !== false;
    const derived = input.pair === '';  // Python: an empty text_pair is no pair
    const e = await tok.encode(input.text, derived ? null : (input.pair ?? null), { addSpecialTokens: add_special_tokens });
    const ids = e.getIds();
    out[name].push({
      ...input,
      ...(derived ? { derived: 'PreTrainedTokenizerFast drops an empty text_pair: the single-text encoding' } : {}),
      input_ids: ids,
      tokens: ids.map((id) => tok.idToToken(id)),
      offsets: e.getOffsets(),
      token_type_ids: e.getTypeIds(),
      special_tokens_mask: e.getSpecialTokensMask(),
      decode: await tok.decode(ids, false),
      decode_skip: await tok.decode(ids, true),
    });
  }
}
fs.writeFileSync(path.join(root, 'cases.json'), JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${Object.keys(out).length} tokenizers to ${root}`);
