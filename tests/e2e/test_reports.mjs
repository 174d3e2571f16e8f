// The dashboard's Reports page in Chromium: for a day with a consultation of the clinician's
// team it draws both SVG charts (bars in the volume chart) and the table with that day's row,
// downloads the same range as CSV, and breaks no CSP rule.
import fs from 'node:fs';
import {
    cfg, DESKTOP, assert, Fail, tid, visible, click, textOf, shoot, login, api, checkProblems, WAIT_MS,
} from './lib.mjs';

async function reportsPage(t) {
    const party = await t.party('reports', DESKTOP);
    const page = party.page;
    // A consultation of Dr Ames's team that ended today (nobody came: a no-show).
    const made = await api('POST', '/api/v1/rooms', { team: 'Clinic' });
    assert(made.status === 201, `POST /api/v1/rooms: ${made.status}`);
    assert((await api('DELETE', `/api/v1/rooms/${made.body.id}`)).status === 204, 'DELETE the room');
    const today = new Date().toISOString().slice(0, 10);

    await login(party, cfg.amesEmail);
    await click(page, 'reports-button');
    await visible(page, 'reports-section');
    assert(await tid(page, 'new-room-button').isHidden(), 'the dashboard is still on show under the reports');
    const row = page.locator(`[data-testid="report-table"] tr[data-date="${today}"]`);
    await row.waitFor({ timeout: WAIT_MS }).catch(async () => {
        throw new Fail(`no table row for ${today}; the page says: ${await textOf(tid(page, 'report-status'))}`);
    });
    await t.check('reports_table_has_the_day_with_its_consultation', async () => {
        const cells = await row.locator('td').allInnerTexts();
        assert(Number(cells[0]) >= 1 && Number(cells[2]) >= 1, `the row of ${today}: ${cells.join(' | ')}`);
    });
    await t.check('reports_charts_are_svg_with_bars_and_titles', async () => {
        const volume = tid(page, 'report-volume-chart').locator('svg[role="img"]');
        const wait = tid(page, 'report-wait-chart').locator('svg[role="img"]');
        assert((await volume.count()) === 1 && (await wait.count()) === 1, 'two charts');
        assert((await volume.locator('rect.chart-bar').count()) >= 1, 'no bar in the volume chart');
        const title = await volume.locator('title').first().textContent();
        assert(/Consultations per day/.test(title || ''), `the volume chart's title: ${title}`);
        const box = await volume.boundingBox();
        assert(box && box.width > 300 && box.height > 80, `the volume chart's size: ${JSON.stringify(box)}`);
    });
    await t.check('reports_csv_download_has_the_day', async () => {
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), click(page, 'report-csv')]);
        const text = fs.readFileSync(await download.path(), 'utf8');
        assert(text.startsWith('date,consultations,completed,no_shows,') && text.includes(`\r\n${today},`), `the CSV: ${text.slice(0, 200)}`);
    });
    await shoot(page, 'reports');
    checkProblems(party);
}

export const tests = [{ name: 'reports_page_draws_charts_and_a_table_for_a_day_with_data', fn: reportsPage, timeout: 60000 }];
