process.stdout.write('agent placeholder\n');
