/** One DTMF key press as the detectors report it, from RFC 4733 events or from tones. */
export interface DtmfPress {
  /** RFC 4733 event number, and the key it stands for. */
  event: number;
  digit: string;
  /** Milliseconds: the event's duration in its payload type's clock rate, or how long the tone lasted. */
  duration: number;
  /** dBm0 below zero (0-63): as the sender wrote it, or as the tone measured. */
  volume: number;
  /** Unix ms the press was reported. */
  at: number;
}
