// The local camera and microphone: getUserMedia with fallbacks, mute/camera toggles, error advice.
import {Emitter} from './emitter.js';
import {msg, t} from './i18n.js';

const VIDEO = {width: {ideal: 1280}, height: {ideal: 720}, facingMode: 'user'};
const AUDIO = {echoCancellation: true, noiseSuppression: true, autoGainControl: true};

/* Which browser family the advice is for. */
export function browserFamily(ua = navigator.userAgent) {
    const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
    const android = /Android/.test(ua);
    let name = 'other';
    if (/Edg/.test(ua)) name = 'edge';
    else if (/SamsungBrowser/.test(ua)) name = 'samsung';
    else if (/Firefox|FxiOS/.test(ua)) name = 'firefox';
    else if (/Chrome|CriOS|Chromium/.test(ua)) name = 'chrome';
    else if (/Safari/.test(ua)) name = 'safari';
    return {name, ios, android, mobile: ios || android};
}

/* The buttons the steps name, in the page's language when the steps are drawn. */
const TRY_AGAIN = {button: () => t('media.tryAgain')};
const TRY_CAMERA = {button: () => t('media.tryCamera')};

/* Steps to allow the camera and microphone, for this browser. */
function permissionSteps(b) {
    if (b.ios) return [msg('media.steps.ios.1'), msg('media.steps.setAllow'), msg('media.steps.ios.3'), msg('media.steps.thenTap', TRY_AGAIN)];
    if (b.android) return [msg('media.steps.android.1'), msg('media.steps.android.2'), msg('media.steps.android.3'), msg('media.steps.thenTap', TRY_AGAIN)];
    if (b.name === 'firefox') return [msg('media.steps.firefox.1'), msg('media.steps.firefox.2'), msg('media.steps.firefox.3', TRY_AGAIN)];
    if (b.name === 'safari') return [msg('media.steps.safari.1'), msg('media.steps.setAllow'), msg('media.steps.thenClick', TRY_AGAIN)];
    return [msg('media.steps.other.1'), msg('media.steps.other.2'), msg('media.steps.thenClick', TRY_AGAIN)];
}

/* The one step that lets the camera alone through, for this browser. */
function cameraStep(b) {
    if (b.ios) return msg('media.camsteps.ios');
    if (b.android) return msg('media.camsteps.android');
    if (b.name === 'firefox') return msg('media.camsteps.firefox');
    if (b.name === 'safari') return msg('media.camsteps.safari');
    return msg('media.camsteps.other');
}

const BLOCKED = new Set(['NotAllowedError', 'PermissionDeniedError', 'SecurityError']);
const NOT_FOUND = new Set(['NotFoundError', 'DevicesNotFoundError', 'OverconstrainedError']);
const BUSY = new Set(['NotReadableError', 'TrackStartError', 'AbortError']);

/* A friendly {title, steps} (Msgs) for a getUserMedia failure. */
export function describeMediaError(err, b = browserFamily()) {
    const name = (err && err.name) || 'Error';
    if (BLOCKED.has(name)) return {kind: 'blocked', title: msg('media.blocked.title'), steps: permissionSteps(b)};
    if (NOT_FOUND.has(name)) {
        return {kind: 'missing', title: msg('media.notFound.title'),
            steps: [msg(b.mobile ? 'media.notFound.mobile' : 'media.notFound.desktop'), msg('media.notFound.then', TRY_AGAIN)]};
    }
    if (BUSY.has(name)) return {kind: 'busy', title: msg('media.busy.title'), steps: [msg('media.busy.1'), msg('media.busy.2', TRY_AGAIN)]};
    if (name === 'TypeError' || !navigator.mediaDevices) {
        return {kind: 'unsupported', title: msg('media.unsupported.title'), steps: [msg('media.unsupported.1')]};
    }
    return {kind: 'failed', title: msg('media.failed.title'), steps: [msg('media.failed.1', TRY_AGAIN)]};
}

/* A calm {title, text, steps} (Msgs) for a page that has a microphone but no camera: it joins
 * with sound only, and is told why and how to bring the camera back. */
export function describeCameraOnly(err, b = browserFamily()) {
    const name = (err && err.name) || 'NotFoundError';
    const text = msg('media.camOnly.text');
    if (BLOCKED.has(name)) {
        return {title: msg('media.camOnly.blocked.title'), text, steps: [cameraStep(b), msg('media.steps.thenTap', TRY_CAMERA)]};
    }
    if (BUSY.has(name)) return {title: msg('media.camOnly.busy.title'), text, steps: [msg('media.camOnly.busy.1', TRY_CAMERA)]};
    return {title: msg('media.camOnly.none.title'), text, steps: [msg('media.camOnly.none.1', TRY_CAMERA)]};
}

/* Events: 'stream' (MediaStream|null), 'change' ({muted, cameraOff}). */
export class LocalMedia extends Emitter {
    constructor() {
        super();
        this.stream = null;
        this.error = null;
        this.muted = false;
        this.cameraOff = false;
    }

    get hasAudio() {
        return Boolean(this.stream && this.stream.getAudioTracks().length);
    }

    get hasVideo() {
        return Boolean(this.stream && this.stream.getVideoTracks().length);
    }

    /* A microphone but no camera: the call goes on with sound only. */
    get audioOnly() {
        return this.hasAudio && !this.hasVideo;
    }

    /* Asks for camera and microphone; falls back to whichever exists. Never throws: on failure
     * this.error holds the first error and stream is whatever could be had (maybe null). */
    async start() {
        this.stop();
        this.error = null;
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
            this.error = new TypeError('getUserMedia unavailable');
            this.emit('stream', null);
            return null;
        }
        let stream = null;
        try {
            stream = await navigator.mediaDevices.getUserMedia({audio: AUDIO, video: VIDEO});
        } catch (err) {
            this.error = err;
            // Whatever still works: the microphone alone (a camera missing, busy or blocked joins
            // with sound only), else a camera alone.
            stream = await this.tryOne({audio: AUDIO}) || await this.tryOne({video: VIDEO}) || await this.tryOne({video: true});
        }
        this.stream = stream;
        this.apply();
        this.emit('stream', stream);
        return stream;
    }

    async tryOne(constraints) {
        try {
            return await navigator.mediaDevices.getUserMedia(constraints);
        } catch {
            return null;
        }
    }

    apply() {
        if (!this.stream) return;
        for (const t of this.stream.getAudioTracks()) t.enabled = !this.muted;
        for (const t of this.stream.getVideoTracks()) t.enabled = !this.cameraOff;
        this.emit('change', {muted: this.muted, cameraOff: this.cameraOff});
    }

    setMuted(muted) {
        this.muted = muted;
        this.apply();
        if (!this.stream) this.emit('change', {muted, cameraOff: this.cameraOff});
    }

    setCameraOff(off) {
        this.cameraOff = off;
        this.apply();
        if (!this.stream) this.emit('change', {muted: this.muted, cameraOff: off});
    }

    stop() {
        if (this.stream) for (const t of this.stream.getTracks()) t.stop();
        this.stream = null;
    }
}
