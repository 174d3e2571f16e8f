// A TCP relay that holds every chunk for a fixed delay in each direction, in order: the 200 ms
// half of the netem scenario where the kernel has no sch_netem (loss comes from nftables).
// usage: node delay_proxy.mjs LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS  (listens on 127.0.0.1)
import net from 'node:net';

const [listenPort, host, port, delayMs] = process.argv.slice(2).map((v, i) => (i === 1 ? v : Number(v)));

// Writes each chunk from `from` to `to` delayMs after it arrived; equal delays keep the order.
function delayed(from, to) {
    from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
}

net.createServer((client) => {
    const server = net.connect(port, host);
    delayed(client, server);
    delayed(server, client);
    server.on('close', () => setTimeout(() => client.destroy(), delayMs));
    client.on('close', () => setTimeout(() => server.destroy(), delayMs));
}).listen(listenPort, '127.0.0.1', () => console.log('listening'));
