/** The DTMF keypad (ITU-T Q.23): each key a row and a column frequency, and its RFC 4733 event number. */

export const ROWS: readonly number[] = [697, 770, 852, 941];
export const COLUMNS: readonly number[] = [1209, 1336, 1477, 1633];
/** RFC 4733 event of row r, column c. */
export const EVENTS: ReadonlyArray<readonly number[]> = [
  [1, 2, 3, 12],
  [4, 5, 6, 13],
  [7, 8, 9, 14],
  [10, 0, 11, 15],
];

/** The row and column frequency of event 0-15. */
export function keyFrequencies(event: number): [row: number, column: number] {
  const r = EVENTS.findIndex((row) => row.includes(event));
  return [ROWS[r]!, COLUMNS[EVENTS[r]!.indexOf(event)]!];
}
