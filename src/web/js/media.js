// The local camera and microphone: getUserMedia with fallbacks, mute/camera toggles, error advice.
import {Emitter} from './emitter.js';

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

/* Steps to allow the camera and microphone, for this browser. */
function permissionSteps(b) {
    if (b.ios) {
        return [
            'Tap "aA" (or the camera icon) in the address bar, then "Website Settings".',
            'Set Camera and Microphone to "Allow".',
            'If that is not there: open the Settings app, find your browser, and turn on Camera and Microphone.',
            'Then tap "Try again".',
        ];
    }
    if (b.android) {
        return [
            'Tap the icon to the left of the web address, then "Permissions".',
            'Allow Camera and Microphone.',
            'If they stay blocked: open the phone\'s Settings, then Apps, your browser, Permissions.',
            'Then tap "Try again".',
        ];
    }
    if (b.name === 'firefox') {
        return [
            'Click the crossed-out camera icon at the left of the address bar.',
            'Remove the "Blocked" setting for Camera and Microphone.',
            'Then click "Try again" and choose "Allow".',
        ];
    }
    if (b.name === 'safari') {
        return [
            'In the menu bar choose Safari, then "Settings for This Website…".',
            'Set Camera and Microphone to "Allow".',
            'Then click "Try again".',
        ];
    }
    return [
        'Click the camera icon (or the lock icon) in the address bar.',
        'Choose "Always allow" for the camera and microphone, then "Done".',
        'Then click "Try again".',
    ];
}

/* A friendly {title, steps} for a getUserMedia failure. */
export function describeMediaError(err, b = browserFamily()) {
    const name = (err && err.name) || 'Error';
    if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') {
        return {
            title: 'Your browser is blocking the camera and microphone.',
            steps: permissionSteps(b),
        };
    }
    if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
        return {
            title: 'We could not find a camera or microphone.',
            steps: [
                b.mobile ? 'Check that no other app is using the camera.' : 'Plug in a webcam or headset, or use a phone or laptop that has one.',
                'Then tap "Try again". You can also join without video: the clinician will still hear you if a microphone works.',
            ],
        };
    }
    if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
        return {
            title: 'The camera or microphone is being used by another app.',
            steps: [
                'Close other apps or browser tabs that may use the camera (video calls, camera apps).',
                'Then tap "Try again". If that does not help, restart the browser.',
            ],
        };
    }
    if (name === 'TypeError' || !navigator.mediaDevices) {
        return {
            title: 'This browser cannot use the camera here.',
            steps: ['Open the link in an up-to-date Chrome, Safari, Firefox or Edge.'],
        };
    }
    return {title: 'The camera or microphone could not start.', steps: ['Tap "Try again", or restart the browser.']};
}

/* A calm {title, text, steps} for a page that has a microphone but no camera: it joins with sound
 * only, and is told why and how to bring the camera back. */
export function describeCameraOnly(err, b = browserFamily()) {
    const name = (err && err.name) || 'NotFoundError';
    const text = 'You can still join: the others will hear you, but they will not see you.';
    if (name === 'NotAllowedError' || name === 'PermissionDeniedError' || name === 'SecurityError') {
        return {title: 'Your camera is blocked, so you will join with sound only.', text,
            steps: permissionSteps(b).map((s) => s.replace(/Camera and Microphone|camera and microphone/g, 'the camera'))};
    }
    if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
        return {title: 'Another app is using your camera, so you will join with sound only.', text,
            steps: ['Close other apps that may use the camera, then tap "Try the camera again".']};
    }
    return {title: 'No camera was found, so you will join with sound only.', text,
        steps: ['If you have a camera, plug it in, then tap "Try the camera again".']};
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
