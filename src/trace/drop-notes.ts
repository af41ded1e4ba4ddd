/**
 * Frames that a fault injector dropped, as the demo's capture records them: the
 * dropped frame's bytes on the capture's second interface (link type USER0, see
 * CaptureLink.recordNote) with a comment that says where it was lost. Wireshark lists
 * such a note in frame order without taking it for traffic, so its TCP analysis stays
 * the analysis of what really crossed the capture point; our diagram reads the note
 * and draws the frame as lost.
 */
import type { PacketDirection } from '../wire/pcap.js';
import * as words from './words.js';


/** The pcapng comment of a drop note. */
export function dropNoteComment(direction: PacketDirection): string {
  return `${words.LOST_LABEL}: ${words.lostWhere(direction)}`;
}
