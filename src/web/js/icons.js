// Inline SVG icons for the call controls (built with DOM calls, so the CSP needs no exceptions).
const NS = 'http://www.w3.org/2000/svg';

const PATHS = {
    mic: ['M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3z', 'M19 11a7 7 0 0 1-14 0', 'M12 18v3'],
    micOff: ['M15 9.3V5a3 3 0 0 0-5.7-1.3', 'M9 9v2a3 3 0 0 0 4.7 2.5', 'M19 11a7 7 0 0 1-1.2 3.9', 'M5 11a7 7 0 0 0 10.8 5.9', 'M12 18v3', 'M3 3l18 18'],
    cam: ['M3 7h12v10H3z', 'M15 10l6-3v10l-6-3'],
    camOff: ['M3 7h2m4 0h6v6', 'M15 17H3V7', 'M15 10l6-3v10l-6-3', 'M3 3l18 18'],
    hangup: ['M3 14.5c5-4.7 13-4.7 18 0l-2.3 2.6-3.4-1.3v-2.4a10 10 0 0 0-4.6 0v2.4l-3.4 1.3z'],
    copy: ['M9 9h10v10H9z', 'M5 15V5h10'],
    chat: ['M4 5h16v11H9l-5 4z'],
    screen: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4'],
};

export function icon(name) {
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'icon');
    for (const d of PATHS[name] || []) {
        const path = document.createElementNS(NS, 'path');
        path.setAttribute('d', d);
        svg.append(path);
    }
    return svg;
}
