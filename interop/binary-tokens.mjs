// Prints Baileys' WABinary dictionaries: {"single": [...236], "double": [[...256] x 4]}.
import { SINGLE_BYTE_TOKENS, DOUBLE_BYTE_TOKENS } from 'baileys/lib/WABinary/constants.js';

console.log(JSON.stringify({ single: SINGLE_BYTE_TOKENS, double: DOUBLE_BYTE_TOKENS }));
