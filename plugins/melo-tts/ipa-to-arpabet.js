// Pronouncing words the lexicon does not have (names, brands) with espeak-ng: its IPA is mapped onto the CMU
// (ARPAbet) phones the MeloTTS English model was trained on, with the lexicon's tone rule: a vowel's tone is
// stress + 1 (no stress 1, primary 2, secondary 3), a consonant's 0; the caller adds tone_start.
//
// sherpa-onnx spells such a word letter by letter instead; for "Siobhan" a caller would rather hear a guess.

// Longest sequences first. Vowels carry stress; consonants don't.
const VOWELS = [
  ['aɪ', 'ay'], ['aʊ', 'aw'], ['eɪ', 'ey'], ['oʊ', 'ow'], ['əʊ', 'ow'], ['ɔɪ', 'oy'],
  ['ɔː', 'ao'], ['ɑː', 'aa'], ['iː', 'iy'], ['uː', 'uw'], ['ɜː', 'er'], ['oː', 'ao'], ['ɪə', 'ih'], ['eə', 'eh'], ['ʊə', 'uh'],
  ['ɚ', 'er'], ['ɝ', 'er'], ['ɐ', 'ah'], ['ə', 'ah'], ['ʌ', 'ah'], ['æ', 'ae'], ['ɛ', 'eh'], ['e', 'eh'],
  ['ɪ', 'ih'], ['ᵻ', 'ih'], ['ɨ', 'ih'], ['i', 'iy'], ['u', 'uw'], ['ʊ', 'uh'], ['ɑ', 'aa'], ['ɒ', 'aa'],
  ['ɔ', 'ao'], ['a', 'ae'], ['o', 'ow'],
];
const CONSONANTS = [
  ['tʃ', 'ch'], ['dʒ', 'jh'],
  ['b', 'b'], ['d', 'd'], ['f', 'f'], ['h', 'hh'], ['k', 'k'], ['l', 'l'], ['m', 'm'], ['n', 'n'], ['p', 'p'],
  ['s', 's'], ['t', 't'], ['v', 'v'], ['w', 'w'], ['z', 'z'], ['ɡ', 'g'], ['g', 'g'], ['ŋ', 'ng'], ['ɹ', 'r'],
  ['r', 'r'], ['ɾ', 't'], ['ʃ', 'sh'], ['ʒ', 'zh'], ['θ', 'th'], ['ð', 'dh'], ['j', 'y'], ['ʔ', 't'],
  ['x', 'hh'], ['ç', 'hh'], ['ɬ', 'l'], ['ɫ', 'l'], ['ʍ', 'w'], ['c', 'k'], ['q', 'k'],
];
const TABLE = [...VOWELS.map(([ipa, ph]) => [ipa, ph, true]), ...CONSONANTS.map(([ipa, ph]) => [ipa, ph, false])].sort((a, b) => b[0].length - a[0].length);

/**
 * IPA (espeak-ng's output for one word) -> { phones, tones } like a lexicon entry before tone_start is added.
 * Unknown symbols are skipped; language-switch flags like "(fr)" are dropped.
 */
export function ipaToArpabet(ipa) {
  const s = ipa.normalize('NFC').replace(/\([a-z-]+\)/g, '');
  const phones = [];
  const tones = [];
  let stress = 0;
  for (let i = 0; i < s.length; ) {
    const ch = s[i];
    if (ch === 'ˈ' || ch === 'ˌ') {
      stress = ch === 'ˈ' ? 1 : 2;
      i++;
      continue;
    }
    const hit = TABLE.find(([sym]) => s.startsWith(sym, i));
    if (!hit) {
      i++; // length marks, syllabic marks, spaces, anything else
      continue;
    }
    const [sym, phone, vowel] = hit;
    i += sym.length;
    // espeak writes the r-coloured vowel and then the r ("ɜːɹ", "ɚɹ"); CMU has ER alone.
    if (phone === 'r' && phones[phones.length - 1] === 'er') continue;
    phones.push(phone);
    if (vowel) {
      tones.push(stress + 1);
      stress = 0;
    } else {
      tones.push(0);
    }
  }
  return { phones, tones };
}
