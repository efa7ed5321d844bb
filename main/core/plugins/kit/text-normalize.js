// English text normalization for speech: numbers, times, money, phone numbers, abbreviations and symbols become
// the words a person would say. The rules follow MeloTTS's English front end (melo/text/english_utils:
// time_norm.py, number_norm.py, abbreviations.py) where those read well on a phone call, and depart from it
// where they don't (noted inline). Case is kept: callers lowercase if their model wants it.

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES = [
  [1_000_000_000_000n, 'trillion'],
  [1_000_000_000n, 'billion'],
  [1_000_000n, 'million'],
  [1_000n, 'thousand'],
];

function below1000(n) {
  const words = [];
  if (n >= 100) {
    words.push(ONES[Math.floor(n / 100)], 'hundred');
    n %= 100;
  }
  if (n >= 20) {
    words.push(TENS[Math.floor(n / 10)]);
    if (n % 10) words.push(ONES[n % 10]);
  } else if (n > 0 || words.length === 0) {
    words.push(ONES[n]);
  }
  return words.join(' ');
}

/**
 * Cardinal number in words, without "and" and without hyphens ("one hundred twenty three"), like inflect's
 * number_to_words(n, andword="") that MeloTTS uses, minus the hyphens (a hyphen becomes a pause token in MeloTTS).
 * Numbers of 16 digits or more are read digit by digit.
 */
export function numberToWords(value) {
  let n = typeof value === 'bigint' ? value : BigInt(value);
  if (n < 0n) return `minus ${numberToWords(-n)}`;
  if (n >= 1_000_000_000_000_000n) return digitsToWords(n.toString());
  if (n < 1000n) return below1000(Number(n));
  const words = [];
  for (const [size, name] of SCALES) {
    if (n >= size) {
      words.push(below1000(Number(n / size)), name);
      n %= size;
    }
  }
  if (n > 0n) words.push(below1000(Number(n)));
  return words.join(' ');
}

/** "2024" -> "twenty twenty four", "1905" -> "nineteen oh five", "2005" -> "two thousand five" (MeloTTS _expand_number). */
function yearLike(n) {
  if (n === 2000) return 'two thousand';
  if (n > 2000 && n < 2010) return `two thousand ${ONES[n % 100]}`;
  if (n % 100 === 0) return `${numberToWords(n / 100)} hundred`;
  const tail = n % 100;
  return `${numberToWords(Math.floor(n / 100))} ${tail < 10 ? `oh ${ONES[tail]}` : numberToWords(tail)}`;
}

/** An integer as spoken in running text: 1001-2999 (except round thousands) read like years, as MeloTTS does. */
export function integerToWords(n) {
  if (n > 1000 && n < 3000 && !(n % 1000 === 0)) return yearLike(n);
  return numberToWords(n);
}

const ORDINAL_IRREGULAR = { one: 'first', two: 'second', three: 'third', five: 'fifth', eight: 'eighth', nine: 'ninth', twelve: 'twelfth' };

/** 1 -> "first", 22 -> "twenty second", 100 -> "one hundredth". */
export function ordinalToWords(n) {
  const words = numberToWords(n).split(' ');
  const last = words.pop();
  let ord;
  if (ORDINAL_IRREGULAR[last]) ord = ORDINAL_IRREGULAR[last];
  else if (last.endsWith('y')) ord = `${last.slice(0, -1)}ieth`;
  else ord = `${last}th`;
  return [...words, ord].join(' ');
}

export function digitsToWords(digits) {
  return [...digits].filter((c) => c >= '0' && c <= '9').map((c) => ONES[Number(c)]).join(' ');
}

// --- times -------------------------------------------------------------------------------------------------

// MeloTTS time_norm.py, with two changes: no "a m"/"p m" is invented when the text has none (MeloTTS says
// "three thirty a m" for "3:30"), and ":00" without am/pm reads "o'clock".
// A final "." of "p.m." is left in place: it may be the sentence's full stop.
const TIME = /\b([01]?\d|2[0-3]):([0-5]\d)(?:\s*([ap])\.?\s?m\b)?/gi;
const HOUR_AMPM = /\b(1[0-2]|0?[1-9])\s?([ap])\.?\s?m\b/gi;

function expandTime(_match, h, m, ampm) {
  let hour = Number(h);
  const minute = Number(m);
  let suffix = ampm ? `${ampm.toLowerCase()} m` : '';
  if (!ampm && hour >= 13) {
    hour -= 12;
    suffix = 'p m';
  } else if (!ampm && hour === 0) {
    hour = 12;
    suffix = 'a m';
  }
  const words = [numberToWords(hour)];
  if (minute === 0) {
    if (!suffix) words.push("o'clock");
  } else {
    if (minute < 10) words.push('oh');
    words.push(numberToWords(minute));
  }
  if (suffix) words.push(suffix);
  return words.join(' ');
}

// --- money ---------------------------------------------------------------------------------------------------

const CURRENCIES = {
  $: ['dollar', 'dollars', 'cent', 'cents'],
  '€': ['euro', 'euros', 'cent', 'cents'],
  '£': ['pound', 'pounds', 'penny', 'pence'],
  '¥': ['yen', 'yen', 'sen', 'sen'],
};
const MONEY = /([$€£¥])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion)\b)?/g;

// MeloTTS number_norm.py __expand_currency: "<int> <unit>s <fraction> <subunit>s". Differences: "$12.5" is
// twelve dollars and fifty cents (MeloTTS reads the fraction as 5 cents), and "and" joins the two parts.
function expandMoney(_match, symbol, whole, fraction, scale) {
  const [one, many, subOne, subMany] = CURRENCIES[symbol];
  const units = BigInt(whole.replace(/,/g, ''));
  if (scale) {
    const amount = fraction ? `${numberToWords(units)} point ${digitsToWords(fraction)}` : numberToWords(units);
    return `${amount} ${scale} ${many}`;
  }
  const cents = fraction ? Number(fraction.padEnd(2, '0').slice(0, 2)) : 0;
  const parts = [];
  if (units > 0n) parts.push(`${numberToWords(units)} ${units === 1n ? one : many}`);
  if (cents > 0) parts.push(`${numberToWords(cents)} ${cents === 1 ? subOne : subMany}`);
  if (parts.length === 0) return `zero ${many}`;
  return parts.join(' and ');
}

// --- phone numbers -------------------------------------------------------------------------------------------

// "(555) 123-4567", "+1 555 123 4567", "555.123.4567": digit by digit, a pause between groups. Not in MeloTTS,
// which would say "five hundred fifty five minus one hundred twenty three...".
const PHONE = /(?<![\w.])(\+\d{1,3}[\s.-]?)?(?:(\(\d{3}\)|\d{3})[\s.-]?)?\d{3}[\s.-]\d{4}(?![\w])/g;

function expandPhone(match) {
  const groups = match.replace(/[()]/g, ' ').split(/[\s.-]+/).filter(Boolean);
  return groups.map((g) => (g.startsWith('+') ? `plus ${digitsToWords(g)}` : digitsToWords(g))).join(', ');
}

// --- abbreviations -------------------------------------------------------------------------------------------

// MeloTTS abbreviations.py plus common ones a phone agent says. "St." is "saint" before a capitalized name
// ("St. Louis") and "street" otherwise ("Main St.").
const ABBREVIATIONS = [
  ['mrs', 'misses'], ['mr', 'mister'], ['ms', 'miz'], ['dr', 'doctor'], ['jr', 'junior'], ['sr', 'senior'],
  ['co', 'company'], ['maj', 'major'], ['gen', 'general'], ['drs', 'doctors'], ['rev', 'reverend'],
  ['lt', 'lieutenant'], ['hon', 'honorable'], ['sgt', 'sergeant'], ['capt', 'captain'], ['esq', 'esquire'],
  ['ltd', 'limited'], ['col', 'colonel'], ['ft', 'fort'], ['inc', 'incorporated'], ['ave', 'avenue'],
  ['rd', 'road'], ['blvd', 'boulevard'], ['apt', 'apartment'], ['mt', 'mount'], ['vs', 'versus'],
  ['etc', 'et cetera'], ['approx', 'approximately'], ['dept', 'department'], ['min', 'minutes'], ['hrs', 'hours'],
];
const ABBREVIATION_RE = new RegExp(`\\b(${ABBREVIATIONS.map(([a]) => a).join('|')})\\.`, 'gi');
const ABBREVIATION_MAP = new Map(ABBREVIATIONS);

function keepCase(source, replacement) {
  return source[0] === source[0].toUpperCase() ? replacement[0].toUpperCase() + replacement.slice(1) : replacement;
}

// --- the pipeline --------------------------------------------------------------------------------------------

/** Turn written English into speakable English. */
export function normalizeEnglish(input) {
  let text = String(input)
    .normalize('NFC')
    .replace(/[\u00a0\u2000-\u200b\u202f]/g, ' ')
    .replace(/[‘’ʼ]/g, "'")
    .replace(/[“”«»]/g, '"')
    .replace(/\s*[—–]\s*/g, ', ')
    .replace(/\.{3,}/g, '…')
    // LLM replies sometimes carry markdown and emoji: nothing in them is meant to be read out.
    .replace(/^\s*(?:#{1,6}|[-*•]|\d+[.)])\s+/gm, (m) => (/\d/.test(m) ? m : ''))
    .replace(/[*_`~]+/g, '')
    .replace(/\p{Extended_Pictographic}\uFE0F?/gu, '');

  text = text.replace(/\bSt\.(?=\s+[A-Z])/g, 'Saint').replace(/\bst\.(?=\s+[A-Z])/g, 'saint');
  text = text.replace(/\b(St)\.|\b(st)\./g, (m, upper) => (upper ? 'Street' : 'street'));
  text = text.replace(ABBREVIATION_RE, (m, abbr) => keepCase(abbr, ABBREVIATION_MAP.get(abbr.toLowerCase())));
  text = text.replace(/\be\.g\.(?=\s|$)/gi, 'for example').replace(/\bi\.e\.(?=\s|$)/gi, 'that is');
  text = text.replace(/\bno\.\s?(?=\d)/gi, 'number ');
  // "p.m." -> "p m"; its last dot stays a full stop when a new sentence (or the end) follows.
  text = text.replace(/\b([aApP])\.[mM]\.(?=(\s+[A-Z]|\s*$)?)/g, (m, ap, end) => `${ap.toLowerCase()} m${end !== undefined ? '.' : ''}`);

  text = text.replace(TIME, expandTime);
  text = text.replace(HOUR_AMPM, (m, h, ap) => `${numberToWords(Number(h))} ${ap.toLowerCase()} m`);
  text = text.replace(PHONE, expandPhone);
  text = text.replace(MONEY, expandMoney);
  text = text.replace(/(\d+(?:,\d{3})*(?:\.\d+)?)\s?%/g, '$1 percent');
  // "1,234" is a quantity: never read it like a year.
  text = text.replace(/\b(\d{1,3}(?:,\d{3})+)(?![\d.])/g, (m) => ` ${numberToWords(BigInt(m.replace(/,/g, '')))} `);
  text = text.replace(/\b(\d+)(st|nd|rd|th)\b/gi, (m, n) => ordinalToWords(BigInt(n)));
  text = text.replace(/(^|[^\w.])-(\d+\.\d+)/g, '$1minus $2');
  text = text.replace(/(\d{1,3}(?:,\d{3})+|\d+)\.(\d+)/g, (m, whole, frac) => `${whole.includes(',') ? numberToWords(BigInt(whole.replace(/,/g, ''))) : integerOrDigits(whole)} point ${digitsToWords(frac)}`);
  text = text.replace(/(^|[^\w-])-(\d+)\b/g, (m, before, n) => `${before}minus ${integerOrDigits(n)}`);
  text = text.replace(/\d+/g, (m) => ` ${integerOrDigits(m)} `);

  text = text
    .replace(/\s*&\s*/g, ' and ')
    .replace(/(\w)\s*@\s*(\w)/g, '$1 at $2')
    .replace(/#(?=\s?\w)/g, 'number ')
    .replace(/\s+\+\s+/g, ' plus ')
    .replace(/\s+=\s+/g, ' equals ');
  return text.replace(/[ \t]+/g, ' ').replace(/ ([,.!?;:…])/g, '$1').replace(/^ | $/gm, '');
}

function integerOrDigits(digits) {
  // Leading zeros ("007") and very long runs are identifiers, not quantities.
  if ((digits.length > 1 && digits.startsWith('0')) || digits.length > 15) return digitsToWords(digits);
  return integerToWords(Number(digits));
}
