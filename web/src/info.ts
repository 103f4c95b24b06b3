/* Reading a dataset's `info` text (GET /v1/datasets/ID/info) for the figures
 * the JSON routes do not carry: the live tree's samples and bytes (the tag
 * list answers files/bytes 0 for initial-tag) and the selection's size.
 * `key: value` lines as core/local.c writes them; pure, unit-tested. */

export interface InfoFigures {
  samples: number | null;
  bytes: number | null;
  selection: number | null;
}

export function parseInfo(text: string): InfoFigures {
  const out: InfoFigures = { samples: null, bytes: null, selection: null };
  for (const line of text.split('\n')) {
    if (line.startsWith(' ')) continue; // the tags tree below "tags:"
    const m = /^([a-z_ ]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2];
    const num = /^(\d+)/.exec(v);
    if (!num) continue;
    const n = Number(num[1]);
    if (m[1] === 'samples' && out.samples === null) out.samples = n;
    else if (m[1] === 'bytes' && out.bytes === null) out.bytes = n;
    else if (m[1] === 'selection' && out.selection === null) out.selection = n;
  }
  return out;
}
