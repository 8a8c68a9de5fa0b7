import fs from 'node:fs';
import { runSessionBench } from '../../../bench/sessionsBench';
function pgCpu(): number {
  let t = 0;
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('postgres')) continue;
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {}
  }
  return t * 10; // ms (CLK_TCK 100)
}
let lastPg = 0, lastNode = process.cpuUsage(), lastT = performance.now();
function snap(label: string) {
  const p = pgCpu(), n = process.cpuUsage(), t = performance.now();
  console.log(`${label}: wall ${(t - lastT).toFixed(0)} ms, node cpu ${((n.user - lastNode.user + n.system - lastNode.system) / 1000).toFixed(0)} ms, pg cpu ${(p - lastPg).toFixed(0)} ms (incl. exited children)`);
  lastPg = p; lastNode = n; lastT = t;
}
void runSessionBench((line) => { snap('phase'); console.log(line); }, 40).then(() => undefined);
