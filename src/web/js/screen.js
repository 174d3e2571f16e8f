// Screen sharing for the clinician: getDisplayMedia's track replaces the camera on every pair,
// and the camera comes back when the sharing stops (the button, or the browser's own Stop).
import {Emitter} from './emitter.js';

/* True where the browser can share a screen at all (not on phones). */
export function canShareScreen() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
}

/* Events: 'change' (the shared track, or null when sharing stopped), 'error' (the error). */
export class ScreenShare extends Emitter {
    constructor() {
        super();
        this.track = null;
    }

    get active() {
        return Boolean(this.track);
    }

    async start() {
        if (this.track) return;
        let stream;
        try {
            stream = await navigator.mediaDevices.getDisplayMedia({video: true, audio: false});
        } catch (err) {
            if (err.name !== 'NotAllowedError' && err.name !== 'AbortError') this.emit('error', err);
            return; // the clinician chose not to share
        }
        const track = stream.getVideoTracks()[0];
        if (!track) return;
        if ('contentHint' in track) track.contentHint = 'detail'; // a scan's text stays sharp
        track.addEventListener('ended', () => this.stop());
        this.track = track;
        this.emit('change', track);
    }

    stop() {
        if (!this.track) return;
        const t = this.track;
        this.track = null;
        t.stop();
        this.emit('change', null);
    }
}
