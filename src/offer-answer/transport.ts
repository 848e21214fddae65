/**
 * The transport step of an m= line: its profile, and the keys of each leg. SDES/OSRTP and DTLS-SRTP
 * settle here: an offer gets the relay's a=crypto lines and, on a secure profile, its DTLS actpass; an
 * answer settles each leg's keys (SDES) or DTLS role and fingerprint.
 */
import type { MonologueMedia } from '../call/call.js';
import type { SideDtls } from '../dataplane/types.js';
import type { MediaStep } from './context.js';
import { answerSetup, dtlsLines, participantDtls, relayOffersDtls, sameAssociation, setupAgainst, sideDtls } from './dtls.js';
import { answerCrypto, mediaMayNeedSrtp, newSdesState, offerCrypto, plainLeg } from './sdes.js';

export const settleTransport: MediaStep = async (ctx, deps) => {
  const { kind, req, media, mine, theirs, plan } = ctx;
  // In an answer, `theirs` is the offerer and still holds the protocol it offered.
  const offeredProtocol = theirs.protocol;
  const dtlsIn = participantDtls(media, req.dtls);
  const done = (protocol: string, crypto: string[], dtls?: string[]): void => {
    mine.protocol = media.protocol;
    theirs.protocol = protocol;
    plan.protocol = protocol;
    plan.crypto = crypto;
    plan.dtls = dtls;
  };
  // Plain calls keep no SDES state: an idle call's memory is a budget (issue 4: <= 4 KiB).
  if (!mine.sdes && !theirs.sdes && !mediaMayNeedSrtp(media, req)) {
    const leg = plainLeg(media, req.transportProtocol);
    return done(leg.protocol, leg.lines);
  }
  mine.sdes ??= newSdesState();
  theirs.sdes ??= newSdesState();
  if (kind === 'offer') {
    const dtlsOut = relayOffersDtls(media, req);
    const leg = offerCrypto(media, { offerer: mine.sdes, answerer: theirs.sdes }, req, { sender: dtlsIn !== undefined, recipient: dtlsOut });
    mine.dtlsParams = dtlsIn;
    if (!dtlsOut) {
      theirs.side.dtls = null;
      return done(leg.protocol, leg.lines);
    }
    // Ready for an answerer that starts the handshake before its answer reaches the relay.
    theirs.side.dtls ??= { role: 'server', fingerprint: null };
    const hash = req.dtlsFingerprint ?? dtlsIn?.fingerprint.hash ?? 'sha-256';
    return done(leg.protocol, leg.lines, dtlsLines('actpass', hash, await deps.fingerprint(hash)));
  }
  // Only an answerer the relay offered DTLS to can have chosen it.
  const answererDtls = mine.side.dtls ? dtlsIn : undefined;
  const offererDtls = req.dtls === 'off' ? undefined : theirs.dtlsParams;
  const keying = { sender: offererDtls !== undefined, recipient: answererDtls !== undefined };
  const settled = answerCrypto(media, { offerer: theirs.sdes, answerer: mine.sdes }, offeredProtocol, req, keying);
  mine.dtlsParams = answererDtls;
  if (answererDtls) setDtls(mine, sideDtls(setupAgainst(answererDtls.setup), answererDtls.fingerprint));
  else {
    mine.side.dtls = null;
    mine.side.srtp = settled.answererSrtp;
  }
  if (!offererDtls) {
    theirs.side.dtls = null;
    theirs.side.srtp = settled.offererSrtp;
    return done(settled.leg.protocol, settled.leg.lines);
  }
  const setup = answerSetup(offererDtls.setup, req.dtls, deps.options.dtlsPassive);
  setDtls(theirs, sideDtls(setup, offererDtls.fingerprint));
  const hash = req.dtlsFingerprint ?? offererDtls.fingerprint.hash;
  return done(settled.leg.protocol, settled.leg.lines, dtlsLines(setup, hash, await deps.fingerprint(hash)));
};

/** Keys from a finished handshake survive a re-answer only if the peer's certificate and role are the same. */
function setDtls(media: MonologueMedia, next: SideDtls): void {
  if (!sameAssociation(media.side.dtls, next)) media.side.srtp = null;
  media.side.dtls = next;
}
